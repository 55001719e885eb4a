//! The app's command line for clinic IT: `carebill kiosk set-passcode`.

use crate::kiosk;

/// `carebill kiosk set-passcode`: asks for the admin passcode twice on the terminal and writes its
/// hash into the system-wide config (run it as an administrator).
pub fn set_passcode_cli() -> i32 {
    let path = kiosk::system_config_path();
    let ask = |prompt: &str| -> String {
        eprint!("{prompt}");
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    let first = ask(&format!(
        "New admin passcode for {} (at least 8 characters): ",
        path.display()
    ));
    if ask("Type it again: ") != first {
        eprintln!("The two passcodes differ. Nothing was changed.");
        return 1;
    }
    match kiosk::set_passcode(&path, &first) {
        Ok(()) => {
            eprintln!("Saved the admin passcode hash in {}.", path.display());
            0
        }
        Err(e) => {
            eprintln!("Nothing was changed: {e}");
            1
        }
    }
}
