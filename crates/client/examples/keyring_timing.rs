//! A remembered start's keyring calls, timed: through the `keyring` crate's own Secret Service
//! store (a connection and key exchange a call) and through `OsKeyring` (one kept session).
//! docs/PERFORMANCE.md, issue 23, fifteenth part. Run it in a D-Bus session with an unlocked
//! gnome-keyring, never the desktop's own:
//!
//! ```sh
//! cargo build --release -p carebill-client --example keyring_timing
//! XDG_DATA_HOME=$(mktemp -d) dbus-run-session -- sh -c \
//!   'printf pw | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec "$@"' \
//!   sh target/release/examples/keyring_timing
//! ```

use std::time::Instant;

use carebill_client::{OsKeyring, SecretStore};

/// The entries a remembered start reads (and the refresh token, which it writes again).
const READ: [&str; 3] = ["last-member", "refresh/member", "cache-key/copy"];
const STARTS: u32 = 40;

/// CPU seconds (user and system) of process `pid` ("self" for this one).
fn cpu_seconds(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or("").split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn main() {
    let daemon = std::process::Command::new("pgrep")
        .args(["-n", "gnome-keyring-d"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    let service = format!("carebill-keyring-timing-{}", std::process::id());
    let crates = |name: &str| keyring::Entry::new(&service, name).expect("an entry");
    for name in READ {
        crates(name)
            .set_password("a-secret-of-some-length")
            .expect("a keyring to write to");
    }
    for round in 1..=2 {
        for kept in [false, true] {
            let (app, keyring, clock) = (cpu_seconds("self"), cpu_seconds(&daemon), Instant::now());
            for _ in 0..STARTS {
                if kept {
                    let ring = OsKeyring::open(&service);
                    for name in READ {
                        ring.get(name).expect("a read").expect("the entry");
                    }
                    ring.set(READ[1], "a-secret-of-some-length").expect("a write");
                } else {
                    let _ = crates("probe").get_password();
                    for name in READ {
                        crates(name).get_password().expect("the entry");
                    }
                    crates(READ[1])
                        .set_password("a-secret-of-some-length")
                        .expect("a write");
                }
            }
            let per_start = |seconds: f64| seconds * 1000.0 / f64::from(STARTS);
            println!(
                "round {round}, {}: {:.1} ms a start, CPU {:.1} ms in the app and {:.1} ms in gnome-keyring",
                if kept {
                    "one kept session (OsKeyring)"
                } else {
                    "the keyring crate's store"
                },
                per_start(clock.elapsed().as_secs_f64()),
                per_start(cpu_seconds("self") - app),
                per_start(cpu_seconds(&daemon) - keyring),
            );
        }
    }
    for name in READ {
        let _ = crates(name).delete_credential();
    }
}
