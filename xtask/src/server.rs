//! The demo billing server as a child process.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{Result, root};

pub struct DemoServer {
    child: Child,
    pub url: String,
    /// The billing office console's address (its own listener).
    pub console_url: Option<String>,
    pub banner: String,
}

impl DemoServer {
    /// Starts `carebill-server --demo` and waits until it listens. `for_people` keeps the
    /// per-address limits on; automated runs turn them off so their own sign-ins are not throttled.
    pub fn start(data_dir: &Path, listen: &str, for_people: bool) -> Result<DemoServer> {
        DemoServer::start_binary(
            &root().join("target/debug/carebill-server"),
            data_dir,
            listen,
            for_people,
            None,
        )
    }

    /// `database_url`: PostgreSQL instead of SQLite in `data_dir` (passed in the environment,
    /// as a password would be).
    pub fn start_binary(
        bin: &Path,
        data_dir: &Path,
        listen: &str,
        for_people: bool,
        database_url: Option<&str>,
    ) -> Result<DemoServer> {
        let mut cmd = Command::new(bin);
        match database_url {
            Some(url) => cmd.env("CAREBILL_DATABASE_URL", url),
            None => cmd.env_remove("CAREBILL_DATABASE_URL"),
        };
        cmd.arg("--demo")
            .arg("--data-dir")
            .arg(data_dir)
            .arg("--listen")
            .arg(listen);
        // Automated runs (port 0) take any free port for the console too, so runs side by side
        // never collide; people get the documented 127.0.0.1:8788.
        if listen.ends_with(":0") {
            cmd.arg("--console-listen").arg("127.0.0.1:0");
        }
        if !for_people {
            cmd.arg("--no-address-limits");
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", bin.display()))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let mut banner = String::new();
        let mut url = None;
        let mut console_url = None;
        let started = Instant::now();
        for line in lines.by_ref() {
            let line = line.map_err(|e| e.to_string())?;
            if let Some(rest) = line.split("listening on ").nth(1) {
                url = Some(rest.trim().to_string());
            }
            if let Some(rest) = line.strip_prefix("Billing office console: ") {
                console_url = Some(rest.trim().trim_end_matches('/').to_string());
            }
            banner.push_str(&line);
            banner.push('\n');
            if line.starts_with("Ready") || started.elapsed() > Duration::from_secs(120) {
                break;
            }
        }
        // Keep draining the child's output so it never blocks on a full pipe.
        std::thread::spawn(move || {
            lines.for_each(|l| {
                if let Ok(l) = l {
                    println!("{l}")
                }
            })
        });
        let url = url.ok_or_else(|| {
            let _ = child.kill();
            "the server did not say where it listens".to_string()
        })?;
        Ok(DemoServer {
            child,
            url,
            console_url,
            banner,
        })
    }
}

impl DemoServer {
    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for DemoServer {
    fn drop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        #[cfg(unix)]
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
