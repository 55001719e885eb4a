//! `cargo xtask bundle`: the release app and its Linux packages (.deb and .rpm) through the pinned
//! `@tauri-apps/cli` (ui/package.json), with the sizes reported. AppImage, .msi, NSIS, .app and
//! .dmg are built by .github/workflows/release.yml (AppImage tooling is downloaded from the web).
//!
//! `--smoke` then installs the .deb with apt into a fresh Debian 12 root (debootstrap, so nothing
//! from this machine's packages helps it), starts the installed app there on a virtual display
//! against the demo server, waits for its sign-in screen, takes a screenshot, and purges the
//! package. It needs root and the Debian mirror; it is not part of `cargo xtask test`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Result, cargo, deps, root, server, sh, step};

pub fn run(smoke: bool) -> Result {
    deps::system_packages()?;
    deps::build_ui()?;
    step("Release build and Linux packages (tauri build --bundles deb,rpm)");
    let mut build = Command::new(root().join("ui/node_modules/.bin/tauri"));
    build.args(["build", "--ci", "--bundles", "deb,rpm"]);
    if std::env::var_os("TAURI_SIGNING_PRIVATE_KEY").is_none() {
        eprintln!(
            "note: TAURI_SIGNING_PRIVATE_KEY is not set, so no signed update bundles are made here \
             (the release workflow signs them with the repository secret)"
        );
        build.args(["--config", r#"{"bundle":{"createUpdaterArtifacts":false}}"#]);
    }
    sh(&mut build)?;

    let release = target_dir().join("release");
    let deb = newest(&release.join("bundle/deb"), "deb")?;
    let rpm = newest(&release.join("bundle/rpm"), "rpm")?;
    step("Sizes");
    for (what, path, target) in [
        ("binary", release.join("carebill"), Some(12.0)),
        (".deb", deb.clone(), Some(15.0)),
        (".rpm", rpm, None),
    ] {
        let bytes = std::fs::metadata(&path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .len();
        // MiB, as docs/PERFORMANCE.md reports sizes.
        let mb = bytes as f64 / 1_048_576.0;
        let verdict = target.map_or(String::new(), |t| {
            format!(" (target <= {t} MB: {})", if mb <= t { "met" } else { "missed" })
        });
        eprintln!("{what:7} {mb:6.2} MiB  {bytes:>10} bytes  {}{verdict}", path.display());
    }
    let depends = Command::new("dpkg-deb")
        .arg("--field")
        .arg(&deb)
        .arg("Depends")
        .output()
        .map_err(|e| e.to_string())?;
    let depends = String::from_utf8_lossy(&depends.stdout).trim().to_string();
    eprintln!(".deb Depends: {depends}");
    for needed in ["libwebkit2gtk-4.1-0", "libgtk-3-0", "libssl3", "libdbus-1-3"] {
        if !depends.split(", ").any(|d| d.split_whitespace().next() == Some(needed)) {
            return Err(format!("the .deb does not declare {needed}"));
        }
    }
    if smoke { smoke_test(&deb) } else { Ok(()) }
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root().join("target"), PathBuf::from)
}

/// The most recently written `*.ext` in `dir`.
fn newest(dir: &Path, ext: &str) -> Result<PathBuf> {
    std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .max_by_key(|p| p.metadata().and_then(|m| m.modified()).ok())
        .ok_or_else(|| format!("no .{ext} in {}", dir.display()))
}

const MIRROR: &str = "http://deb.debian.org/debian";
const DISPLAY_NUMBER: &str = ":97";

/// Installs the .deb into a fresh Debian 12 root and starts it there (see the module docs).
fn smoke_test(deb: &Path) -> Result {
    if !Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
    {
        return Err("the smoke test needs root (debootstrap, chroot, mounts)".into());
    }
    if !deps::have("debootstrap") {
        sh(Command::new("apt-get")
            .args(["install", "-y", "-q", "--no-install-recommends", "debootstrap"])
            .env("DEBIAN_FRONTEND", "noninteractive"))?;
    }
    sh(cargo().args(["build", "--package", "carebill-server"]))?;
    let work = root().join("target/xtask/smoke");
    let chroot = work.join("root");
    remove_root(&work)?;
    std::fs::create_dir_all(&work).map_err(|e| e.to_string())?;

    step("A clean Debian 12 root (debootstrap --variant=minbase bookworm)");
    let mirror = std::env::var("CAREBILL_DEBIAN_MIRROR").unwrap_or_else(|_| MIRROR.into());
    sh(Command::new("debootstrap")
        .args(["--variant=minbase", "bookworm"])
        .arg(&chroot)
        .arg(&mirror)
        .stdout(Stdio::null()))?;
    std::fs::copy("/etc/resolv.conf", chroot.join("etc/resolv.conf")).map_err(|e| e.to_string())?;
    let file_name = deb.file_name().ok_or("no file name")?.to_string_lossy().into_owned();
    std::fs::copy(deb, chroot.join("tmp").join(&file_name)).map_err(|e| e.to_string())?;

    let mounts = Mounts::new(&chroot);
    let outcome = mounts.and_then(|m| {
        let outcome = install_and_start(&chroot, &file_name, &work);
        drop(m);
        outcome
    });
    remove_root(&chroot)?;
    match &outcome {
        Ok(()) => eprintln!(
            "\nSmoke test passed: installed with apt on a clean Debian 12, started, showed its sign-in \
             screen ({}), and purged.",
            work.join("smoke.png").display()
        ),
        Err(e) => eprintln!("\nSmoke test failed: {e}"),
    }
    outcome
}

fn in_root(chroot: &Path, script: &str) -> Command {
    let mut cmd = Command::new("chroot");
    cmd.arg(chroot)
        .args(["/bin/sh", "-c", script])
        .env("DEBIAN_FRONTEND", "noninteractive")
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
    cmd
}

fn install_and_start(chroot: &Path, deb: &str, work: &Path) -> Result {
    step(&format!("apt install ./{deb} (in the clean root)"));
    sh(&mut in_root(
        chroot,
        &format!("apt-get update -q && apt-get install -y -q --no-install-recommends ./tmp/{deb}"),
    ))?;
    sh(&mut in_root(
        chroot,
        "dpkg -L carebill | grep -E '^/usr/bin/carebill$|\\.desktop$' && test -x /usr/bin/carebill",
    ))?;

    step("Starting the installed app on a virtual display, against the demo server");
    let data = work.join("server-data");
    let server = server::DemoServer::start_binary(
        &target_dir().join("debug/carebill-server"),
        &data,
        "127.0.0.1:0",
        false,
        None,
    )?;
    let display = Background::spawn(
        Command::new("Xvfb")
            .args([DISPLAY_NUMBER, "-screen", "0", "1280x860x24", "-nolisten", "tcp"])
            .stderr(Stdio::null()),
    )?;
    std::thread::sleep(Duration::from_secs(1));
    // The X socket is shared into the root by the /tmp/.X11-unix bind mount.
    let mut app = in_root(
        chroot,
        "export HOME=/root XDG_RUNTIME_DIR=/tmp/runtime; mkdir -p -m 700 $XDG_RUNTIME_DIR; exec /usr/bin/carebill",
    );
    app.env("DISPLAY", DISPLAY_NUMBER)
        .env("CAREBILL_API_URL", &server.url)
        .env("CAREBILL_STARTUP_PROBE", "sign_in")
        .env("WEBKIT_DISABLE_COMPOSITING_MODE", "1")
        .env("NO_AT_BRIDGE", "1")
        .stdout(Stdio::piped());
    let mut app = Background::spawn(&mut app)?;
    let ready = wait_for_ready(&mut app.0, Duration::from_secs(90));
    if ready.is_ok() {
        std::thread::sleep(Duration::from_secs(2));
        sh(Command::new("import")
            .args(["-display", DISPLAY_NUMBER, "-window", "root"])
            .arg(work.join("smoke.png")))?;
    }
    drop(app);
    drop(display);
    drop(server);
    let ms = ready?;
    eprintln!("the installed app painted its sign-in screen {ms} ms after it started");

    step("apt purge carebill (the app and the account's Carebill data are gone)");
    sh(&mut in_root(
        chroot,
        "test -d /root/.local/share/app.carebill.desktop && apt-get purge -y -q carebill \
         && ! test -e /usr/bin/carebill && ! dpkg -s carebill 2>/dev/null \
         && ! test -e /root/.local/share/app.carebill.desktop && ! test -e /root/.local/share/Carebill",
    ))
}

/// Waits for `carebill-ready sign_in <ms>` from the startup probe.
fn wait_for_ready(child: &mut Child, limit: Duration) -> Result<u64> {
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(std::result::Result::ok) {
            if let Some(ms) = line.strip_prefix("carebill-ready sign_in ") {
                let _ = tx.send(ms.trim().parse::<u64>().unwrap_or(0));
                return;
            }
        }
    });
    let started = Instant::now();
    rx.recv_timeout(limit).map_err(|_| {
        format!(
            "the installed app did not show its sign-in screen within {} s",
            started.elapsed().as_secs()
        )
    })
}

/// A child process killed (with its process group) when dropped.
struct Background(Child);

impl Background {
    fn spawn(cmd: &mut Command) -> Result<Background> {
        // Its own process group, so dropping it stops what it started (the smoke test is Linux
        // only; xtask still compiles everywhere).
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(cmd, 0);
        cmd.spawn()
            .map(Background)
            .map_err(|e| format!("cannot start {cmd:?}: {e}"))
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        let _ = Command::new("kill").arg("--").arg(format!("-{}", self.0.id())).status();
        let _ = self.0.wait();
    }
}

/// Deletes a smoke-test root, but only once nothing is mounted under it any more: a leftover bind
/// mount of /dev must never be deleted through.
fn remove_root(dir: &Path) -> Result {
    let under = |dir: &Path| -> Vec<String> {
        let prefix = format!("{}/", dir.display());
        std::fs::read_to_string("/proc/mounts")
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
            .filter(|m| m.starts_with(&prefix))
            .collect()
    };
    for at in under(dir).iter().rev() {
        let _ = Command::new("umount").args(["--recursive", "--lazy", at]).status();
    }
    let left = under(dir);
    if !left.is_empty() {
        return Err(format!("still mounted, not deleting {}: {left:?}", dir.display()));
    }
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(format!("{}: {e}", dir.display())),
        _ => Ok(()),
    }
}

/// /proc, /sys, /dev and the X socket directory inside the root, unmounted when dropped.
struct Mounts(Vec<PathBuf>);

impl Mounts {
    fn new(chroot: &Path) -> Result<Mounts> {
        // Dropped (and so unmounted) on any early return below.
        let mut mounts = Mounts(Vec::new());
        std::fs::create_dir_all("/tmp/.X11-unix").map_err(|e| e.to_string())?;
        for (source, target, args) in [
            ("proc", "proc", &["-t", "proc"][..]),
            ("sysfs", "sys", &["-t", "sysfs"][..]),
            ("/dev", "dev", &["--rbind"][..]),
            ("/tmp/.X11-unix", "tmp/.X11-unix", &["--bind"][..]),
        ] {
            let at = chroot.join(target);
            std::fs::create_dir_all(&at).map_err(|e| e.to_string())?;
            sh(Command::new("mount").args(args).arg(source).arg(&at))?;
            mounts.0.push(at);
        }
        Ok(mounts)
    }
}

impl Drop for Mounts {
    fn drop(&mut self) {
        for at in self.0.iter().rev() {
            let _ = Command::new("umount").args(["--recursive", "--lazy"]).arg(at).status();
        }
    }
}
