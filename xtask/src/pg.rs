//! A throwaway PostgreSQL 15 cluster for the test run: `initdb` into a directory under target/,
//! a Unix socket there only (nothing on the network), durable settings, stopped and removed when
//! dropped. As root (PostgreSQL refuses to run as root) its programs run in a user namespace where
//! this user is uid 1000. The tests' own helper is `carebill_testkit::postgres`; this one lives
//! here so xtask does not build the server.

use std::path::PathBuf;
use std::process::Command;

use crate::{Result, root, sh};

const BIN: &str = "/usr/lib/postgresql/15/bin";

pub struct Cluster {
    dir: PathBuf,
}

fn program(name: &str) -> Command {
    let path = PathBuf::from(BIN).join(name);
    let root_user = Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false);
    if root_user {
        let mut c = Command::new("unshare");
        c.args(["--user", "--map-user=1000", "--map-group=1000"]).arg(path);
        c
    } else {
        Command::new(path)
    }
}

impl Cluster {
    pub fn start() -> Result<Cluster> {
        let dir = root().join(format!("target/xtask/postgres-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let cluster = Cluster { dir };
        let data = cluster.dir.join("data");
        sh(program("initdb")
            .arg("-D")
            .arg(&data)
            .args([
                "-A",
                "trust",
                "-U",
                "carebill",
                "-E",
                "UTF8",
                "--locale=C.UTF-8",
                "--no-instructions",
            ])
            .stdout(std::process::Stdio::null()))?;
        let options = format!(
            "-k {} -c listen_addresses='' -p 5432 -c fsync=on -c synchronous_commit=on -c max_connections=300 -c max_wal_size=256MB -c min_wal_size=64MB",
            cluster.dir.display()
        );
        sh(program("pg_ctl")
            .arg("-D")
            .arg(&data)
            .args(["-w", "-l"])
            .arg(cluster.dir.join("server.log"))
            .args(["-o", &options, "start"])
            .stdout(std::process::Stdio::null()))?;
        Ok(cluster)
    }

    /// Creates an empty database and answers its URL.
    pub fn create_database(&self, name: &str) -> Result<String> {
        sh(Command::new("psql")
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(&self.dir)
            .args(["-p", "5432", "-U", "carebill", "-d", "postgres", "-c"])
            .arg(format!("CREATE DATABASE \"{name}\""))
            .stdout(std::process::Stdio::null()))?;
        Ok(self.url_template().replace("{db}", name))
    }

    /// CPU seconds used so far by the cluster: the postmaster with its reaped children, and every
    /// live child (backends, checkpointer, WAL writer, ...).
    pub fn cpu_seconds(&self) -> f64 {
        let Some(postmaster) = std::fs::read_to_string(self.dir.join("data/postmaster.pid"))
            .ok()
            .and_then(|s| s.lines().next().and_then(|l| l.trim().parse::<u32>().ok()))
        else {
            return 0.0;
        };
        let mut total = crate::bench::process_cpu(postmaster, true);
        for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
                continue;
            };
            let parent = std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|s| {
                    s.rsplit_once(')')
                        .and_then(|(_, rest)| rest.split_whitespace().nth(1).map(str::to_string))
                })
                .and_then(|p| p.parse::<u32>().ok());
            if parent == Some(postmaster) {
                total += crate::bench::process_cpu(pid, false);
            }
        }
        total
    }

    /// The URL template the test kit fills with each test server's database name.
    pub fn url_template(&self) -> String {
        format!("postgresql://carebill@/{{db}}?host={}&port=5432", self.dir.display())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = program("pg_ctl")
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-w", "-m", "immediate", "stop"])
            .stdout(std::process::Stdio::null())
            .status();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
