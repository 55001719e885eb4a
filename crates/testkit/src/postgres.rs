//! A throwaway PostgreSQL 15 cluster for tests: `initdb` into a temp dir, listening on a Unix
//! socket in that dir only (`listen_addresses = ''`: nothing on the network), with durable
//! settings as in production (`fsync`, `synchronous_commit`). Stopped and removed when dropped.
//!
//! PostgreSQL refuses to run as root. When the tests run as root, its programs run in a user
//! namespace of their own where this user is uid 1000 (`unshare --user --map-user=1000`): the
//! server sees an ordinary user, and the files it writes are this user's. (Switching to the
//! `postgres` account instead needs that account to read the system's libraries, which some
//! sandboxes do not allow.)

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Where Debian's PostgreSQL 15 puts its server programs.
const BIN: &str = "/usr/lib/postgresql/15/bin";
/// The port only names the socket file (`.s.PGSQL.5432`) in the cluster's own dir.
const PORT: u16 = 5432;
/// The cluster's superuser, and the user every URL names.
pub const USER: &str = "carebill";

pub struct PgCluster {
    dir: tempfile::TempDir,
    stopped: bool,
    port: u16,
    /// The loopback port of a cluster started with TLS.
    tcp_port: Option<u16>,
}

/// An empty database for a test that needs PostgreSQL whatever the run: in the run's cluster when
/// the suite runs on PostgreSQL (dropped with the handle), else `name` in a cluster of its own
/// (stopped and removed with the handle). Synchronous: call it off the async runtime.
pub fn empty_database(name: &str) -> (String, EmptyDatabase) {
    match crate::server::postgres_database() {
        Some(database) => (database.url.clone(), EmptyDatabase::Shared(database)),
        None => {
            let cluster = PgCluster::start().expect("a PostgreSQL cluster starts");
            cluster.create_database(name).expect("the database is created");
            (cluster.url(name), EmptyDatabase::Own(cluster))
        }
    }
}

/// What keeps an [`empty_database`] alive.
pub enum EmptyDatabase {
    Shared(crate::server::TestDatabase),
    Own(PgCluster),
}

/// A certificate chain and its private key (PEM), for a cluster that speaks TLS.
#[derive(Debug, Clone)]
pub struct ServerCert {
    pub chain_pem: String,
    pub key_pem: String,
}

fn running_as_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A PostgreSQL program; as an ordinary user in a user namespace of its own when this process is
/// root.
fn program(name: &str) -> Command {
    let path = Path::new(BIN).join(name);
    if running_as_root() {
        let mut c = Command::new("unshare");
        c.args(["--user", "--map-user=1000", "--map-group=1000"]).arg(path);
        c
    } else {
        Command::new(path)
    }
}

fn checked(what: &str, out: std::io::Result<Output>) -> Result<String, String> {
    let out = out.map_err(|e| format!("{what}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl PgCluster {
    /// Whether PostgreSQL 15's server programs are installed here.
    pub fn available() -> bool {
        Path::new(BIN).join("initdb").exists()
    }

    /// Creates and starts a cluster (about a second).
    pub fn start() -> Result<PgCluster, String> {
        PgCluster::start_with(None)
    }

    /// A cluster that also listens on a loopback port of its own, TLS only there (`hostssl`),
    /// with `cert` as its certificate.
    pub fn start_tls(cert: &ServerCert) -> Result<PgCluster, String> {
        PgCluster::start_with(Some(cert))
    }

    fn start_with(cert: Option<&ServerCert>) -> Result<PgCluster, String> {
        let dir = tempfile::Builder::new()
            .prefix("carebill-pg-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        let data = dir.path().join("data");
        checked(
            "initdb",
            program("initdb")
                .arg("-D")
                .arg(&data)
                .args([
                    "-A",
                    "trust",
                    "-U",
                    USER,
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                    "--no-instructions",
                ])
                .output(),
        )?;
        // One port names the socket file and, with TLS, the loopback port too.
        let port = match cert {
            None => PORT,
            Some(_) => free_loopback_port()?,
        };
        let mut options = format!(
            "-k {} -p {port} -c fsync=on -c synchronous_commit=on -c max_connections=100",
            dir.path().display()
        );
        let mut tcp_port = None;
        match cert {
            None => options.push_str(" -c listen_addresses=''"),
            Some(cert) => {
                let write = |name: &str, text: &str| {
                    let path = dir.path().join(name);
                    std::fs::write(&path, text).map_err(|e| e.to_string())?;
                    set_private(&path)?;
                    Ok::<_, String>(path)
                };
                let chain = write("server.crt", &cert.chain_pem)?;
                let key = write("server.key", &cert.key_pem)?;
                // Over TCP only TLS is accepted; the socket stays as it is.
                std::fs::write(
                    data.join("pg_hba.conf"),
                    "local all all trust\nhostssl all all 127.0.0.1/32 trust\n",
                )
                .map_err(|e| e.to_string())?;
                options.push_str(&format!(
                    " -c listen_addresses=127.0.0.1 -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
                    chain.display(),
                    key.display()
                ));
                tcp_port = Some(port);
            }
        }
        let cluster = PgCluster {
            dir,
            stopped: false,
            port,
            tcp_port,
        };
        checked(
            "pg_ctl start",
            program("pg_ctl")
                .arg("-D")
                .arg(&data)
                .args(["-w", "-l"])
                .arg(cluster.dir.path().join("server.log"))
                .args(["-o", &options, "start"])
                .output(),
        )
        .map_err(|e| format!("{e}\n{}", cluster.log()))?;
        Ok(cluster)
    }

    /// The loopback port of a cluster started with [`PgCluster::start_tls`].
    pub fn tcp_port(&self) -> Option<u16> {
        self.tcp_port
    }

    /// The directory holding the socket (`host=` of a URL).
    pub fn socket_dir(&self) -> &Path {
        self.dir.path()
    }

    /// A connection URL for `database` over the cluster's Unix socket.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgresql://{USER}@/{database}?host={}&port={}",
            self.dir.path().display(),
            self.port
        )
    }

    /// Runs SQL with psql (as the cluster's superuser) and answers its unaligned output.
    pub fn psql(&self, database: &str, sql: &str) -> Result<String, String> {
        checked(
            "psql",
            Command::new("psql")
                .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h"])
                .arg(self.dir.path())
                .args(["-p", &self.port.to_string(), "-U", USER, "-d", database, "-c", sql])
                .output(),
        )
        .map(|out| out.trim().to_string())
    }

    /// A new, empty database.
    pub fn create_database(&self, name: &str) -> Result<(), String> {
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""))
            .map(|_| ())
    }

    /// The server's log so far (for failures).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// Stops the cluster now (also done when it is dropped).
    pub fn stop(&mut self) {
        if !self.stopped {
            self.stopped = true;
            let _ = program("pg_ctl")
                .arg("-D")
                .arg(self.data())
                .args(["-w", "-m", "immediate", "stop"])
                .output();
        }
    }
}

/// A loopback port nothing listens on now (the cluster binds it a moment later).
fn free_loopback_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener.local_addr().map(|a| a.port()).map_err(|e| e.to_string())
}

/// PostgreSQL refuses a private key others can read.
fn set_private(path: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(|e| e.to_string())?;
    }
    let _ = path;
    Ok(())
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_starts_on_its_own_socket_with_durable_settings_and_goes_away() {
        assert!(
            PgCluster::available(),
            "PostgreSQL 15 is not installed (`cargo xtask test` installs it)"
        );
        let mut cluster = PgCluster::start().unwrap();
        let version = cluster.psql("postgres", "SHOW server_version_num").unwrap();
        assert!(version.starts_with("15"), "PostgreSQL 15: {version}");
        assert_eq!(cluster.psql("postgres", "SHOW fsync").unwrap(), "on");
        assert_eq!(cluster.psql("postgres", "SHOW synchronous_commit").unwrap(), "on");
        assert_eq!(cluster.psql("postgres", "SHOW listen_addresses").unwrap(), "", "no TCP");
        cluster.create_database("t1").unwrap();
        cluster.psql("t1", "CREATE TABLE x (id BIGINT PRIMARY KEY)").unwrap();
        assert!(cluster.url("t1").contains(&cluster.socket_dir().display().to_string()));
        let pid_file = cluster.data().join("postmaster.pid");
        assert!(pid_file.exists(), "running");
        let dir = cluster.socket_dir().to_path_buf();
        cluster.stop();
        assert!(!pid_file.exists(), "stopped");
        drop(cluster);
        assert!(!dir.exists(), "removed");
    }
}
