//! Connecting to PostgreSQL, over TLS when the URL asks for it the way libpq does:
//! `sslmode=verify-full&sslrootcert=/etc/carebill/db-ca.pem`. The server's certificate must chain
//! to a CA in that file and name the host the URL names (`verify-full`). The TLS stack is rustls,
//! the one the API's listener uses.
//!
//! The driver knows neither `verify-full` nor `sslrootcert`, so both are taken out of the URL and
//! the driver is told TLS is required; this module's connector does the verifying. Modes that
//! encrypt without checking who answers (`require`, `verify-ca`, `prefer`, `allow`) are refused:
//! a password and health data would go to whoever holds the address. Without TLS
//! (`sslmode=disable` or no `sslmode`) only a Unix socket or loopback is accepted
//! (`config::check_database_url`).
//!
//! Channel binding (SCRAM-SHA-256-PLUS) is not offered: its hash must follow the certificate's
//! signature algorithm, and authentication falls back to SCRAM-SHA-256 inside the verified TLS
//! session.

use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};

/// A URL split into what the driver reads and the CA file this module verifies with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgTarget {
    /// The URL for the driver: `sslmode` and `sslrootcert` removed, `sslmode=require` added when
    /// TLS is used.
    pub driver_url: String,
    /// The CA certificates (PEM) the server's certificate must chain to; `None`: no TLS.
    pub root_cert: Option<PathBuf>,
}

impl PgTarget {
    pub fn tls(&self) -> bool {
        self.root_cert.is_some()
    }
}

/// Reads the TLS parameters out of a URL. Errors name the parameter, never the URL (it may hold
/// a password).
pub fn parse(url: &str) -> Result<PgTarget, String> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut kept = Vec::new();
    let (mut mode, mut root_cert) = (None, None);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "sslmode" => mode = Some(percent_decode(value)?),
            "sslrootcert" => root_cert = Some(PathBuf::from(percent_decode(value)?)),
            _ => kept.push(pair),
        }
    }
    let tls = match mode.as_deref() {
        None | Some("disable") => false,
        Some("verify-full") => true,
        Some(weak @ ("require" | "verify-ca" | "prefer" | "allow")) => {
            return Err(format!(
                "sslmode={weak} does not check the database server's name; use sslmode=verify-full with \
                 sslrootcert=<the CA file>"
            ));
        }
        Some(_) => return Err("sslmode must be verify-full (TLS) or disable".into()),
    };
    match (tls, &root_cert) {
        (true, None) => return Err("sslmode=verify-full needs sslrootcert=<the CA file (PEM)>".into()),
        (false, Some(_)) => return Err("sslrootcert is used only with sslmode=verify-full".into()),
        _ => {}
    }
    if tls {
        kept.push("sslmode=require");
    }
    let driver_url = match kept.is_empty() {
        true => base.to_string(),
        false => format!("{base}?{}", kept.join("&")),
    };
    Ok(PgTarget { driver_url, root_cert })
}

fn percent_decode(value: &str) -> Result<String, String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = value
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or("a malformed %-escape in the database URL")?;
            out.push(hex);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "the database URL is not UTF-8".to_string())
}

/// Reads a CA file into a root store: at least one certificate, or an error naming the file.
pub fn root_store(path: &Path) -> Result<rustls::RootCertStore, String> {
    let pem = std::fs::read(path).map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
    let mut roots = rustls::RootCertStore::empty();
    for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
        let cert = cert.map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
        roots
            .add(cert)
            .map_err(|e| format!("sslrootcert {}: {e}", path.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("sslrootcert {}: no certificate in it", path.display()));
    }
    Ok(roots)
}

/// Connects, over verified TLS when the URL asks for it: a connection of the server's own kind
/// (its client driven by a current-thread runtime of its own, see `sql::PgConn`).
pub fn connect(url: &str) -> Result<crate::sql::Connection, String> {
    let target = parse(url)?;
    let config: tokio_postgres::Config = target
        .driver_url
        .parse()
        .map_err(|e: tokio_postgres::Error| e.to_string())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    // A refused certificate reads "error performing TLS handshake: invalid peer certificate: …".
    let client = match &target.root_cert {
        None => runtime.block_on(async {
            let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
            tokio::spawn(connection);
            Ok::<_, tokio_postgres::Error>(client)
        }),
        Some(path) => {
            let tls = Verified::new(root_store(path)?);
            runtime.block_on(async {
                let (client, connection) = config.connect(tls).await?;
                tokio::spawn(connection);
                Ok::<_, tokio_postgres::Error>(client)
            })
        }
    }
    .map_err(|e| e.to_string())?;
    Ok(crate::sql::Connection::postgres(runtime, client))
}

/// Listens on `channel` until `stop` fires, on a connection of its own (named
/// `carebill-listener` in `pg_stat_activity`): `on_notify` for each notification, `on_state(true)`
/// once `LISTEN` is in place and `on_state(false)` when the connection is lost; then it connects
/// again a second later. It runs on the async runtime (the driver is async; nothing here blocks).
pub async fn listen(
    url: String,
    channel: &'static str,
    on_notify: impl Fn() + Send + Sync + 'static,
    on_state: impl Fn(bool) + Send + Sync + 'static,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        let outcome = tokio::select! {
            outcome = listen_once(&url, channel, &on_notify, &on_state) => outcome,
            _ = stop.changed() => return,
        };
        on_state(false);
        if let Err(e) = outcome {
            tracing::warn!(error = %e, "the database listener was lost; caches are bypassed until it is back");
        }
        tokio::select! {
            _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
            _ = stop.changed() => return,
        }
    }
}

async fn listen_once(
    url: &str,
    channel: &str,
    on_notify: &(impl Fn() + Send + Sync),
    on_state: &(impl Fn(bool) + Send + Sync),
) -> Result<(), String> {
    let target = parse(url)?;
    let mut config: tokio_postgres::Config = target
        .driver_url
        .parse()
        .map_err(|e: tokio_postgres::Error| e.to_string())?;
    config.application_name("carebill-listener");
    match &target.root_cert {
        None => {
            let (client, connection) = config.connect(tokio_postgres::NoTls).await.map_err(|e| e.to_string())?;
            listen_on(client, connection, channel, on_notify, on_state).await
        }
        Some(path) => {
            let tls = Verified::new(root_store(path)?);
            let (client, connection) = config.connect(tls).await.map_err(|e| e.to_string())?;
            listen_on(client, connection, channel, on_notify, on_state).await
        }
    }
}

async fn listen_on<S, T>(
    client: tokio_postgres::Client,
    mut connection: tokio_postgres::Connection<S, T>,
    channel: &str,
    on_notify: &(impl Fn() + Send + Sync),
    on_state: &(impl Fn(bool) + Send + Sync),
) -> Result<(), String>
where
    S: AsyncRead + AsyncWrite + Unpin,
    T: AsyncRead + AsyncWrite + Unpin,
{
    let statement = format!("LISTEN {channel}");
    let mut listen = std::pin::pin!(client.batch_execute(&statement));
    let mut listening = false;
    loop {
        // The connection is polled here, which also carries the LISTEN.
        tokio::select! {
            done = &mut listen, if !listening => {
                done.map_err(|e| e.to_string())?;
                listening = true;
                on_state(true);
            }
            message = std::future::poll_fn(|cx| connection.poll_message(cx)) => match message {
                Some(Ok(tokio_postgres::AsyncMessage::Notification(_))) => on_notify(),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.to_string()),
                None => return Err("the connection closed".into()),
            },
        }
    }
}

/// Makes a verifying TLS connector per connection (the driver hands it the host to check).
#[derive(Clone)]
pub struct Verified(Arc<rustls::ClientConfig>);

impl Verified {
    pub fn new(roots: rustls::RootCertStore) -> Verified {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .expect("ring supports the default TLS versions")
            .with_root_certificates(roots)
            .with_no_client_auth();
        Verified(Arc::new(config))
    }
}

impl<S> MakeTlsConnect<S> for Verified
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = Stream<S>;
    type TlsConnect = Connector;
    type Error = io::Error;

    fn make_tls_connect(&mut self, host: &str) -> io::Result<Connector> {
        let name = rustls::pki_types::ServerName::try_from(host.to_string())
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "the database host is not a valid TLS name"))?;
        Ok(Connector {
            config: Arc::clone(&self.0),
            name,
        })
    }
}

pub struct Connector {
    config: Arc<rustls::ClientConfig>,
    name: rustls::pki_types::ServerName<'static>,
}

impl<S> TlsConnect<S> for Connector
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = Stream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Stream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let tls = tokio_rustls::TlsConnector::from(self.config)
                .connect(self.name, stream)
                .await?;
            Ok(Stream(tls))
        })
    }
}

/// A TLS session with the database server.
pub struct Stream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for Stream<S> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for Stream<S> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for Stream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use carebill_testkit::postgres::{PgCluster, ServerCert};

    #[test]
    fn the_url_keeps_what_the_driver_reads_and_refuses_unverified_tls() {
        let t = parse("postgresql://u:pw@db.plan.example:5432/carebill?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&connect_timeout=5")
            .unwrap();
        assert_eq!(
            t.driver_url,
            "postgresql://u:pw@db.plan.example:5432/carebill?connect_timeout=5&sslmode=require"
        );
        assert_eq!(t.root_cert.as_deref(), Some(Path::new("/etc/ca.pem")));
        let plain = parse("postgresql://u@/carebill?host=/run/postgresql").unwrap();
        assert_eq!(plain.driver_url, "postgresql://u@/carebill?host=/run/postgresql");
        assert!(!plain.tls());
        assert!(!parse("postgresql://u@localhost/c?sslmode=disable").unwrap().tls());
        for (url, says) in [
            (
                "postgresql://u:secret@h/c?sslmode=require",
                "sslmode=require does not check",
            ),
            (
                "postgresql://u:secret@h/c?sslmode=verify-ca&sslrootcert=/ca",
                "sslmode=verify-ca does not check",
            ),
            (
                "postgresql://u:secret@h/c?sslmode=prefer",
                "sslmode=prefer does not check",
            ),
            ("postgresql://u:secret@h/c?sslmode=bogus", "sslmode must be verify-full"),
            ("postgresql://u:secret@h/c?sslmode=verify-full", "needs sslrootcert"),
            (
                "postgresql://u:secret@h/c?sslrootcert=/ca",
                "only with sslmode=verify-full",
            ),
            (
                "postgresql://u:secret@h/c?sslmode=verify-full&sslrootcert=%zz",
                "malformed %-escape",
            ),
        ] {
            let err = parse(url).unwrap_err();
            assert!(err.contains(says), "{url}: {err}");
            assert!(!err.contains("secret"), "no password in errors: {err}");
        }
    }

    /// A test CA: its certificate (PEM) and what it signs with.
    struct Ca {
        pem: String,
        issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
    }

    impl Ca {
        fn new() -> Ca {
            use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
            let key = KeyPair::generate().unwrap();
            let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            let pem = params.self_signed(&key).unwrap().pem();
            Ca {
                pem,
                issuer: rcgen::Issuer::new(params, key),
            }
        }

        /// A server certificate for `names`.
        fn sign(&self, names: &[&str]) -> ServerCert {
            let key = rcgen::KeyPair::generate().unwrap();
            let params =
                rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>()).unwrap();
            ServerCert {
                chain_pem: params.signed_by(&key, &self.issuer).unwrap().pem(),
                key_pem: key.serialize_pem(),
            }
        }
    }

    fn refused(url: &str) -> String {
        match connect(url) {
            Ok(_) => panic!("connected: {url}"),
            Err(e) => e,
        }
    }

    #[test]
    fn verify_full_connects_only_to_a_server_the_ca_vouches_for_by_name() {
        let ca = Ca::new();
        let dir = tempfile::tempdir().unwrap();
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, &ca.pem).unwrap();
        let url = |port: u16, ca: &Path| {
            format!(
                "postgresql://carebill@127.0.0.1:{port}/postgres?sslmode=verify-full&sslrootcert={}",
                ca.display()
            )
        };

        let cluster = PgCluster::start_tls(&ca.sign(&["127.0.0.1", "db.carebill.test"])).unwrap();
        let port = cluster.tcp_port().unwrap();
        let conn = connect(&url(port, &ca_file)).unwrap();
        let encrypted: bool = conn
            .query_row("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert!(encrypted, "the session is encrypted");
        drop(conn);
        // The server's own connections go the same way: migrations, then the writer and readers.
        let db = crate::db::Db::open_postgres(&url(port, &ca_file), 1).unwrap();
        let members: i64 = db
            .with_writer(|c| c.query_row("SELECT COUNT(*) FROM roster", [], |r| r.get(0)))
            .unwrap();
        assert_eq!(members, 0);
        drop(db);

        // The cluster takes TLS only over TCP, so the session above really was TLS.
        let err = refused(&format!("postgresql://carebill@127.0.0.1:{port}/postgres"));
        assert!(err.contains("no encryption"), "{err}");

        // A server another CA vouches for is refused.
        let other = dir.path().join("other.pem");
        std::fs::write(&other, Ca::new().pem).unwrap();
        let err = refused(&url(port, &other));
        assert!(err.contains("invalid peer certificate"), "{err}");

        // A CA file with no certificate is named.
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "").unwrap();
        assert!(refused(&url(port, &empty)).contains("no certificate"));
        drop(cluster);

        // The right CA, but a certificate for another name, is refused.
        let cluster = PgCluster::start_tls(&ca.sign(&["db.carebill.test"])).unwrap();
        let err = refused(&url(cluster.tcp_port().unwrap(), &ca_file));
        assert!(err.contains("not valid for name \"127.0.0.1\""), "{err}");
    }
}
