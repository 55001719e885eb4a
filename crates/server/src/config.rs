//! Server configuration: command-line flags plus an optional TOML file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use carebill_api::types::{LocalizedText, MemberIdFormat, MemberServices, PlanInfo, Tagline};
use carebill_billing::BusinessCalendar;
use carebill_billing::validate::MemberIdRule;
use serde::Deserialize;

/// A 256-bit SQLCipher key. Never printed.
#[derive(Clone)]
pub struct DatabaseKey(pub [u8; 32]);

impl std::fmt::Debug for DatabaseKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatabaseKey(..)")
    }
}

impl DatabaseKey {
    pub fn from_hex(s: &str) -> Result<DatabaseKey, ConfigError> {
        let s = s.trim();
        if s.len() != 64 {
            return Err(ConfigError::BadKey);
        }
        let mut out = [0u8; 32];
        for (i, chunk) in s.as_bytes().chunks(2).enumerate() {
            let hex = std::str::from_utf8(chunk).map_err(|_| ConfigError::BadKey)?;
            out[i] = u8::from_str_radix(hex, 16).map_err(|_| ConfigError::BadKey)?;
        }
        Ok(DatabaseKey(out))
    }

    pub fn to_hex(&self) -> String {
        crate::ids::hex(&self.0)
    }

    pub fn random() -> DatabaseKey {
        DatabaseKey(rand::random())
    }
}

/// A PostgreSQL connection URL (`postgresql://user:password@host/db?...`). Never printed: its
/// `Debug` shows only that there is one, since it may carry a password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(pub String);

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DatabaseUrl(..)")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("the database key must be 64 hexadecimal characters (32 bytes)")]
    BadKey,
    #[error("the database URL is not a PostgreSQL URL: {0}")]
    BadDatabaseUrl(String),
    #[error(
        "the database URL names a remote host without TLS: add sslmode=verify-full and \
         sslrootcert=<the CA file (PEM)>, or reach PostgreSQL over a Unix socket \
         (host=/run/postgresql) or loopback"
    )]
    RemoteDatabase,
    #[error("no database key: set CAREBILL_DB_KEY or database_key_file in the config file")]
    NoKey,
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid config file {path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("refusing to serve plain HTTP on {0}: use a loopback address or configure --tls-cert and --tls-key")]
    PlainHttpOffLoopback(SocketAddr),
    #[error("console_listen must be an address like 127.0.0.1:8788 or \"off\", and not the member API's: {0}")]
    ConsoleListen(String),
    #[error("demo mode listens on loopback only, not {0}")]
    DemoOffLoopback(SocketAddr),
    #[error("unknown plan time zone {0:?}")]
    TimeZone(String),
    #[error("cannot create {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
    #[error(
        "no payment processor configured: outside --demo, add [processor] to the config file \
         (kind = \"sandbox\" is the only kind in this release, for staging: it charges nothing real)"
    )]
    NoProcessor,
    #[error("unknown payment processor kind {0:?}: this release has only \"sandbox\"")]
    UnknownProcessor(String),
    #[error(
        "smtp.security = \"none\" sends mail (reset codes) unencrypted: it is allowed only for a relay on loopback, not {0:?}"
    )]
    PlainSmtpOffLoopback(String),
    #[error("smtp.security must be \"starttls\", \"tls\" or \"none\", not {0:?}")]
    SmtpSecurity(String),
    #[error(
        "no [plan] in the config file: outside --demo, say who members call (name, \
         member_services_phone, member_services_tty, member_services_hours; see docs/deploy.md)"
    )]
    NoPlan,
    #[error("[plan] {0}")]
    BadPlan(String),
    #[error("[payment_plans] {0}")]
    BadPaymentPlans(String),
}

/// Which payment processor charges members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessorKind {
    /// The built-in deterministic sandbox: test cards and accounts, nothing real is charged. Demo
    /// mode uses it; a server without `--demo` only when `[processor] kind = "sandbox"` says so
    /// (staging), with a banner in the log and in `/healthz`. Its tokenization endpoints
    /// (`/processor/v1/*`) are mounted only for this kind.
    Sandbox,
}

impl ServerConfig {
    /// The processor to serve with, or why the server must not start.
    pub fn processor(&self) -> Result<ProcessorKind, ConfigError> {
        self.processor.ok_or(ConfigError::NoProcessor)
    }

    /// The plan's facts to serve, or why the server must not start.
    pub fn plan(&self) -> Result<&PlanInfo, ConfigError> {
        self.plan.as_ref().ok_or(ConfigError::NoPlan)
    }
}

/// `[plan]` in the config file: the plan's own facts, served at `GET /v1/plan` and printed on
/// every bill, receipt and mail.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanConfig {
    /// The plan's name as members know it.
    pub name: String,
    /// Member services, as printed on the member's card: `1-800-555-0142`.
    pub member_services_phone: String,
    /// TTY for members who are deaf, hard of hearing or speech-disabled. Default `711`.
    #[serde(default = "default_tty")]
    pub member_services_tty: String,
    /// When a person answers: `{ en = "...", es = "..." }`.
    pub member_services_hours: LocalizedText,
    /// The language-assistance notice (Section 1557 taglines), one `{ lang, text }` per
    /// language, each written in its own language.
    #[serde(default)]
    pub language_assistance: Vec<Tagline>,
    /// The plan's member ID format: a regular expression the whole ID must match after trimming
    /// and upper-casing. Default `M[0-9]{9}`.
    #[serde(default)]
    pub member_id_pattern: Option<String>,
    /// A member ID in that format, for the registration hint. Required with a pattern.
    #[serde(default)]
    pub member_id_example: Option<String>,
}

fn default_tty() -> String {
    "711".into()
}

impl PlanConfig {
    /// The served document, after checking every field.
    pub fn check(self) -> Result<PlanInfo, ConfigError> {
        let bad = |m: String| Err(ConfigError::BadPlan(m));
        let text = |name: &str, v: &str, max: usize| -> Result<(), ConfigError> {
            if v.trim().is_empty() || v.chars().count() > max || v.chars().any(|c| c.is_control() && c != '\n') {
                return Err(ConfigError::BadPlan(format!(
                    "{name} must be 1 to {max} characters of text"
                )));
            }
            Ok(())
        };
        text("name", &self.name, 100)?;
        for (name, phone) in [
            ("member_services_phone", &self.member_services_phone),
            ("member_services_tty", &self.member_services_tty),
        ] {
            if carebill_billing::validate::phone(phone).is_err() {
                return bad(format!(
                    "{name} must be a phone number (3 to 15 digits, spaces, + - ( ) .), not {phone:?}"
                ));
            }
        }
        text("member_services_hours.en", &self.member_services_hours.en, 200)?;
        if let Some(es) = &self.member_services_hours.es {
            text("member_services_hours.es", es, 200)?;
        }
        for t in &self.language_assistance {
            let tag_ok = !t.lang.is_empty()
                && t.lang.len() <= 35
                && t.lang
                    .split('-')
                    .all(|part| (1..=8).contains(&part.len()) && part.chars().all(|c| c.is_ascii_alphanumeric()));
            if !tag_ok {
                return bad(format!(
                    "language_assistance: {:?} is not a language tag (en, es, zh-Hant, ...)",
                    t.lang
                ));
            }
            text(&format!("language_assistance ({})", t.lang), &t.text, 600)?;
        }
        let member_id = match (self.member_id_pattern, self.member_id_example) {
            (None, None) => MemberIdFormat::default(),
            (Some(pattern), Some(example)) => {
                let rule = MemberIdRule::new(&pattern, &example).map_err(ConfigError::BadPlan)?;
                MemberIdFormat {
                    pattern: rule.pattern().to_string(),
                    example: rule.example().to_string(),
                }
            }
            _ => return bad("member_id_pattern and member_id_example go together".into()),
        };
        Ok(PlanInfo {
            name: self.name.trim().to_string(),
            member_services: MemberServices {
                phone: self.member_services_phone.trim().to_string(),
                tty: self.member_services_tty.trim().to_string(),
                hours: self.member_services_hours,
            },
            language_assistance: self.language_assistance,
            payment_plans: Default::default(),
            member_id,
            // The server sets the zone it runs its calendar in when it serves the plan.
            time_zone: carebill_billing::calendar::DEFAULT_PLAN_TIME_ZONE_NAME.to_string(),
            utc_offsets: Vec::new(),
        })
    }
}

/// The demo plan (and the tests'): fictional 555 numbers.
pub fn demo_plan() -> PlanInfo {
    let phone = "1-800-555-0142";
    PlanInfo {
        name: "Carebill Demo Health Plan".into(),
        member_services: MemberServices {
            phone: phone.into(),
            tty: "711".into(),
            hours: LocalizedText {
                en: "Monday to Friday, 8 a.m. to 6 p.m. Pacific time".into(),
                es: Some("de lunes a viernes, de 8 a.m. a 6 p.m., hora del Pacífico".into()),
            },
        },
        language_assistance: vec![
            Tagline {
                lang: "en".into(),
                text: format!(
                    "ATTENTION: If you speak another language, language assistance services, free of charge, are available to you. Call {phone} (TTY: 711)."
                ),
            },
            Tagline {
                lang: "es".into(),
                text: format!(
                    "ATENCIÓN: si habla español, tiene a su disposición servicios gratuitos de asistencia lingüística. Llame al {phone} (TTY: 711)."
                ),
            },
            Tagline {
                lang: "vi".into(),
                text: format!(
                    "CHÚ Ý: Nếu bạn nói Tiếng Việt, có các dịch vụ hỗ trợ ngôn ngữ miễn phí dành cho bạn. Gọi số {phone} (TTY: 711)."
                ),
            },
            Tagline {
                lang: "zh-Hant".into(),
                text: format!("注意：如果您使用繁體中文，您可以免費獲得語言援助服務。請致電 {phone}（TTY：711）。"),
            },
        ],
        payment_plans: Default::default(),
        member_id: MemberIdFormat::default(),
        time_zone: carebill_billing::calendar::DEFAULT_PLAN_TIME_ZONE_NAME.to_string(),
        utc_offsets: Vec::new(),
    }
}

impl ProcessorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ProcessorKind::Sandbox => "sandbox",
        }
    }
}

/// `[processor]` in the config file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessorConfig {
    pub kind: String,
}

/// Outgoing mail through an SMTP relay.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    pub username: Option<String>,
    pub password: Option<String>,
    /// `starttls` (default), `tls` or `none` (loopback relays only).
    #[serde(default = "default_smtp_security")]
    pub security: String,
}

impl std::fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("security", &self.security)
            .finish_non_exhaustive()
    }
}

fn default_smtp_port() -> u16 {
    587
}

fn default_smtp_security() -> String {
    "starttls".into()
}

/// The TOML config file (`--config`). Every key is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    /// A file holding the 64-hex-character database key.
    pub database_key_file: Option<PathBuf>,
    /// A file holding the server secret (64 hex characters: the key of codes' and cursors'
    /// HMACs). Without it the secret is made once and kept in the database. Several servers on
    /// one database must share it.
    pub server_secret_file: Option<PathBuf>,
    /// PostgreSQL instead of SQLite in the data directory (`postgresql://user:password@/db?host=
    /// /run/postgresql`). Also `--database-url` and `CAREBILL_DATABASE_URL`.
    pub database_url: Option<String>,
    /// IANA zone of the plan's business day. Default America/Los_Angeles.
    pub plan_time_zone: Option<String>,
    /// Per-address limits on sign-in and registration. Turn off for load tests only.
    pub address_limits: Option<bool>,
    /// Sender of outgoing mail.
    pub mail_from: Option<String>,
    pub smtp: Option<SmtpConfig>,
    /// The payment processor. Required outside demo mode.
    pub processor: Option<ProcessorConfig>,
    /// Addresses of reverse proxies (TLS terminators, load balancers) whose `X-Forwarded-For`
    /// names the client. Empty: the header is ignored and the peer is the client.
    #[serde(default)]
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Open connections at most; more are closed at once. Default 2048.
    pub max_connections: Option<usize>,
    /// Seconds a client has to send a request's headers (also the longest a kept-alive
    /// connection waits for its next request). Default 10.
    pub header_read_timeout_secs: Option<u64>,
    /// Seconds a connection may stay silent (nothing read or written) before it is closed.
    /// Default 120.
    pub idle_timeout_secs: Option<u64>,
    /// Seconds to read a request's body and answer it. Default 30. A payment is never cancelled
    /// by it: it finishes, and a retry with the same key gets its answer.
    pub request_timeout_secs: Option<u64>,
    /// Largest request body in bytes, on every route but the attachment upload. Default 65536.
    pub max_body_bytes: Option<usize>,
    /// Largest attachment in bytes (`POST /v1/attachments`, its own limit). Default and most
    /// 10485760 (10 MiB): members are told "up to 10 MB".
    pub max_attachment_bytes: Option<usize>,
    /// Seconds to receive an attachment and answer. Default 120 (10 MB at under 1 Mbit/s).
    pub upload_timeout_secs: Option<u64>,
    /// Attachment uploads received at once (each holds up to 10 MiB until it is checked); more
    /// are answered 429 with `Retry-After`. Default 16.
    pub max_concurrent_uploads: Option<usize>,
    /// Days the staff audit log keeps an entry. Default 2192 (six years); at least 365.
    pub staff_audit_retention_days: Option<u32>,
    /// Where the billing office console listens: its own address, never the member API's, so
    /// it can stay on the plan's internal network. Default `127.0.0.1:8788`; `"off"` serves no
    /// console. Plain HTTP on loopback only (else the `--tls-cert` certificate is used).
    pub console_listen: Option<String>,
    /// Velocity limits on payments (card testing). Demo mode, without this section, allows
    /// practically unlimited test payments.
    pub payment_limits: Option<PaymentLimits>,
    /// How payments interrupted by a crash are recovered, and how often the scheduler runs.
    pub recovery: Option<Recovery>,
    /// The plan's own facts (member services phone, hours, TTY, language assistance). Required
    /// outside demo mode.
    pub plan: Option<PlanConfig>,
    /// The rules for payment plans; every value has a default.
    pub payment_plans: Option<PaymentPlansConfig>,
}

/// `[payment_plans]`: what the health plan allows members to set up themselves.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PaymentPlansConfig {
    /// Bills chosen together must add up to at least this (dollars, `"100.00"`). Default $100.
    pub min_balance: Option<carebill_billing::Money>,
    /// The least monthly instalment. Default $25.
    pub min_monthly: Option<carebill_billing::Money>,
    /// The longest plan in months, 1 to 120. Default 24.
    pub max_months: Option<u32>,
    /// Days before each instalment the member is emailed, 1 to 14. Default 3.
    pub notice_days: Option<u32>,
    /// Missed instalments not yet made up that a plan survives, 0 to 12. Default 2.
    pub misses_allowed: Option<u32>,
    /// The longest pause in days, 0 (no pauses) to 180. Default 60.
    pub max_pause_days: Option<u32>,
}

impl PaymentPlansConfig {
    /// The served policy, after checking every value.
    pub fn check(self) -> Result<carebill_api::types::PaymentPlanPolicy, ConfigError> {
        let d = carebill_api::types::PaymentPlanPolicy::default();
        let p = carebill_api::types::PaymentPlanPolicy {
            min_balance: self.min_balance.unwrap_or(d.min_balance),
            min_monthly: self.min_monthly.unwrap_or(d.min_monthly),
            max_months: self.max_months.unwrap_or(d.max_months),
            notice_days: self.notice_days.unwrap_or(d.notice_days),
            misses_allowed: self.misses_allowed.unwrap_or(d.misses_allowed),
            max_pause_days: self.max_pause_days.unwrap_or(d.max_pause_days),
        };
        let bad = |m: &str| Err(ConfigError::BadPaymentPlans(m.to_string()));
        if !p.min_monthly.is_positive() {
            return bad("min_monthly must be more than 0");
        }
        if p.min_balance < p.min_monthly {
            return bad("min_balance must be at least min_monthly");
        }
        if !(1..=120).contains(&p.max_months) {
            return bad("max_months must be 1 to 120");
        }
        if !(1..=14).contains(&p.notice_days) {
            return bad("notice_days must be 1 to 14");
        }
        if p.misses_allowed > 12 {
            return bad("misses_allowed must be 0 to 12");
        }
        if p.max_pause_days > 180 {
            return bad("max_pause_days must be 0 to 180");
        }
        Ok(p)
    }
}

/// Recovery timings. Money never depends on them (a lease is fenced by its id and the
/// processor by its key); they decide how soon an interrupted payment is finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Recovery {
    /// Seconds a claim holds its payment's key before a retry or the sweep may take it over.
    /// Default 60.
    pub lease_secs: u32,
    /// Seconds past an expired lease before the scheduler's sweep finishes the payment itself
    /// (the member's own retry usually comes first). Default 60.
    pub sweep_grace_secs: u32,
    /// Seconds between the scheduler's passes (settlement, autopay, the sweep). Default 60
    /// (10 in demo mode).
    pub scheduler_every_secs: Option<u32>,
    /// Seconds a sender holds the (up to 50) mails it claimed; mail a sender killed mid-way
    /// holds is delivered by another after this. Default 60.
    pub mail_claim_secs: u32,
}

impl Default for Recovery {
    fn default() -> Recovery {
        Recovery {
            lease_secs: 60,
            sweep_grace_secs: 60,
            scheduler_every_secs: None,
            mail_claim_secs: 60,
        }
    }
}

impl Recovery {
    pub fn lease(&self) -> chrono::Duration {
        chrono::Duration::seconds(i64::from(self.lease_secs.max(1)))
    }

    pub fn sweep_grace(&self) -> chrono::Duration {
        chrono::Duration::seconds(i64::from(self.sweep_grace_secs))
    }

    pub fn mail_claim(&self) -> chrono::Duration {
        chrono::Duration::seconds(i64::from(self.mail_claim_secs.max(1)))
    }
}

/// Velocity limits on payments, counted over the last 24 hours inside the claim transaction, so
/// concurrent requests cannot race past them. "Attempts at risk" are payments declined or still
/// being charged. Charges the scheduler makes on saved methods (autopay) are counted apart and
/// never refused by these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PaymentLimits {
    /// Payments a member makes (any outcome). Answer: 429 `too_many_payments`.
    pub member_payments_per_day: u32,
    /// A member's attempts at risk. Answer: 429 `too_many_declines`.
    pub member_declines_per_day: u32,
    /// Attempts at risk with one card or bank account (its processor fingerprint), across
    /// members and guests. Answer: 429 `too_many_declines`.
    pub card_declines_per_day: u32,
    /// Guest attempts at risk on one statement, across kiosks and lookups. Answer: 429
    /// `too_many_declines`.
    pub statement_declines_per_day: u32,
}

impl PaymentLimits {
    /// For demos, benchmarks and tests about something else: no limit (`u32::MAX` is "none").
    pub fn generous() -> PaymentLimits {
        PaymentLimits {
            member_payments_per_day: u32::MAX,
            member_declines_per_day: u32::MAX,
            card_declines_per_day: u32::MAX,
            statement_declines_per_day: u32::MAX,
        }
    }
}

impl Default for PaymentLimits {
    fn default() -> PaymentLimits {
        PaymentLimits {
            member_payments_per_day: 20,
            member_declines_per_day: 5,
            card_declines_per_day: 5,
            statement_declines_per_day: 3,
        }
    }
}

impl FileConfig {
    pub fn load(path: &Path) -> Result<FileConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }
}

/// Everything the server needs to start.
/// The console's port when the config names none.
pub const DEFAULT_CONSOLE_PORT: u16 = 8788;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub demo: bool,
    pub tls: Option<(PathBuf, PathBuf)>,
    pub database_key: DatabaseKey,
    /// The server secret from `server_secret_file`; `None`: the one kept in the database.
    pub server_secret: Option<DatabaseKey>,
    /// PostgreSQL instead of SQLite in `data_dir`.
    pub database_url: Option<DatabaseUrl>,
    pub calendar: BusinessCalendar,
    pub address_limits: bool,
    pub mail_from: String,
    pub smtp: Option<SmtpConfig>,
    /// The payment processor; `None` (no `[processor]` outside demo mode) refuses to serve.
    pub processor: Option<ProcessorKind>,
    /// See [`FileConfig::trusted_proxies`].
    pub trusted_proxies: Vec<std::net::IpAddr>,
    /// Connection cap and time limits (see `serve`).
    pub limits: crate::serve::Limits,
    /// Largest request body in bytes, on every route but the attachment upload.
    pub max_body_bytes: usize,
    /// Largest attachment in bytes.
    pub max_attachment_bytes: usize,
    /// The time limit of an attachment upload (instead of `limits.request_timeout`).
    pub upload_timeout: std::time::Duration,
    /// Attachment uploads received at once.
    pub max_concurrent_uploads: usize,
    /// Days the staff audit log keeps an entry.
    pub staff_audit_retention_days: u32,
    /// The billing office console's own listener; `None` serves no console.
    pub console_listen: Option<SocketAddr>,
    pub payment_limits: PaymentLimits,
    /// How many password hashes may run at once (default: the number of CPUs).
    pub hash_concurrency: usize,
    /// How often the scheduler runs (settlement, autopay, recovery); `None` turns the background
    /// loop off (tests drive `scheduler::run_once` themselves).
    pub scheduler_every: Option<std::time::Duration>,
    pub recovery: Recovery,
    /// `GET /v1/plan`; `None` (no `[plan]` outside demo mode) refuses to serve.
    pub plan: Option<PlanInfo>,
}

impl ServerConfig {
    /// A config for tests and embedding: demo off, loopback, a fresh key.
    pub fn new(listen: SocketAddr, data_dir: PathBuf) -> ServerConfig {
        ServerConfig {
            listen,
            data_dir,
            demo: false,
            tls: None,
            database_key: DatabaseKey::random(),
            server_secret: None,
            database_url: None,
            calendar: BusinessCalendar::default(),
            address_limits: true,
            mail_from: "Carebill <no-reply@carebill.example>".into(),
            smtp: None,
            processor: Some(ProcessorKind::Sandbox),
            trusted_proxies: Vec::new(),
            limits: crate::serve::Limits::default(),
            max_body_bytes: carebill_api::MAX_BODY_BYTES,
            max_attachment_bytes: carebill_api::MAX_ATTACHMENT_BYTES,
            upload_timeout: std::time::Duration::from_secs(120),
            max_concurrent_uploads: 16,
            staff_audit_retention_days: crate::staff_audit::DEFAULT_RETENTION_DAYS,
            console_listen: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            payment_limits: PaymentLimits::default(),
            hash_concurrency: std::thread::available_parallelism().map_or(2, |n| n.get()),
            scheduler_every: Some(std::time::Duration::from_secs(60)),
            recovery: Recovery::default(),
            plan: Some(demo_plan()),
        }
    }

    /// Combines flags, the optional file and the environment.
    pub fn resolve(
        listen: SocketAddr,
        data_dir: PathBuf,
        demo: bool,
        tls: Option<(PathBuf, PathBuf)>,
        file: FileConfig,
        env_key: Option<String>,
    ) -> Result<ServerConfig, ConfigError> {
        if demo && !listen.ip().is_loopback() {
            return Err(ConfigError::DemoOffLoopback(listen));
        }
        if tls.is_none() && !listen.ip().is_loopback() {
            return Err(ConfigError::PlainHttpOffLoopback(listen));
        }
        let database_key = match (env_key, &file.database_key_file) {
            (Some(hex), _) => DatabaseKey::from_hex(&hex)?,
            (None, Some(path)) => key_file(path)?,
            (None, None) if demo => demo_key(&data_dir)?,
            // PostgreSQL needs no SQLite key (its data at rest is the operator's encrypted volume).
            (None, None) if file.database_url.is_some() => DatabaseKey::random(),
            (None, None) => return Err(ConfigError::NoKey),
        };
        // Serving without a processor is refused at start (`ServerConfig::processor`); the other
        // commands (import, kiosk, payments review) need none.
        let processor = match (&file.processor, demo) {
            (Some(p), _) if p.kind == "sandbox" => Some(ProcessorKind::Sandbox),
            (Some(p), _) => return Err(ConfigError::UnknownProcessor(p.kind.clone())),
            (None, true) => Some(ProcessorKind::Sandbox),
            (None, false) => None,
        };
        let calendar = match &file.plan_time_zone {
            Some(zone) => BusinessCalendar::for_zone(zone).ok_or_else(|| ConfigError::TimeZone(zone.clone()))?,
            None => BusinessCalendar::default(),
        };
        let mut config = ServerConfig::new(listen, data_dir);
        config.demo = demo;
        config.tls = tls;
        config.database_key = database_key;
        config.server_secret = file.server_secret_file.as_deref().map(key_file).transpose()?;
        config.database_url = file.database_url.map(|url| check_database_url(&url)).transpose()?;
        config.calendar = calendar;
        config.address_limits = file.address_limits.unwrap_or(true);
        if let Some(from) = file.mail_from {
            config.mail_from = from;
        }
        if let Some(smtp) = &file.smtp {
            match smtp.security.as_str() {
                "starttls" | "tls" => {}
                "none" if is_loopback_host(&smtp.host) => {}
                "none" => return Err(ConfigError::PlainSmtpOffLoopback(smtp.host.clone())),
                other => return Err(ConfigError::SmtpSecurity(other.to_string())),
            }
        }
        config.smtp = file.smtp;
        config.processor = processor;
        config.trusted_proxies = file.trusted_proxies;
        let secs = |v: Option<u64>, default: std::time::Duration| v.map_or(default, std::time::Duration::from_secs);
        let d = crate::serve::Limits::default();
        config.limits = crate::serve::Limits {
            max_connections: file.max_connections.unwrap_or(d.max_connections).max(1),
            header_read_timeout: secs(file.header_read_timeout_secs, d.header_read_timeout),
            idle_timeout: secs(file.idle_timeout_secs, d.idle_timeout),
            request_timeout: secs(file.request_timeout_secs, d.request_timeout),
        };
        config.max_body_bytes = file.max_body_bytes.unwrap_or(carebill_api::MAX_BODY_BYTES);
        config.max_attachment_bytes = file
            .max_attachment_bytes
            .unwrap_or(carebill_api::MAX_ATTACHMENT_BYTES)
            .clamp(1, carebill_api::MAX_ATTACHMENT_BYTES);
        config.upload_timeout = secs(file.upload_timeout_secs, config.upload_timeout);
        config.max_concurrent_uploads = file.max_concurrent_uploads.unwrap_or(16).max(1);
        config.staff_audit_retention_days = file
            .staff_audit_retention_days
            .unwrap_or(crate::staff_audit::DEFAULT_RETENTION_DAYS)
            .max(365);
        config.console_listen = match file.console_listen.as_deref().map(str::trim) {
            Some("off") => None,
            Some(addr) => Some(addr.parse().map_err(|_| ConfigError::ConsoleListen(addr.to_string()))?),
            None => Some(SocketAddr::from(([127, 0, 0, 1], DEFAULT_CONSOLE_PORT))),
        };
        if let Some(console) = config.console_listen {
            if demo && !console.ip().is_loopback() {
                return Err(ConfigError::DemoOffLoopback(console));
            }
            if config.tls.is_none() && !console.ip().is_loopback() {
                return Err(ConfigError::PlainHttpOffLoopback(console));
            }
            if console.port() != 0 && console == listen {
                return Err(ConfigError::ConsoleListen(format!(
                    "{console} (the member API's own address)"
                )));
            }
        }
        config.payment_limits = file.payment_limits.unwrap_or(if demo {
            PaymentLimits::generous()
        } else {
            PaymentLimits::default()
        });
        if demo {
            config.scheduler_every = Some(std::time::Duration::from_secs(10));
        }
        config.recovery = file.recovery.unwrap_or_default();
        config.plan = match file.plan {
            Some(plan) => Some(plan.check()?),
            None if demo => Some(demo_plan()),
            None => None,
        };
        let policy = file.payment_plans.map(PaymentPlansConfig::check).transpose()?;
        if let (Some(plan), Some(policy)) = (config.plan.as_mut(), policy) {
            plan.payment_plans = policy;
        }
        if let Some(every) = config.recovery.scheduler_every_secs {
            config.scheduler_every = Some(std::time::Duration::from_secs(u64::from(every.max(1))));
        }
        Ok(config)
    }
}

/// `localhost` or a loopback address.
fn is_loopback_host(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A PostgreSQL URL this build can use: well-formed, and reaching the database over verified
/// TLS (`sslmode=verify-full` with a readable `sslrootcert`), a Unix socket or loopback. The URL
/// never appears in errors.
pub fn check_database_url(url: &str) -> Result<DatabaseUrl, ConfigError> {
    if !(url.starts_with("postgresql://") || url.starts_with("postgres://")) {
        return Err(ConfigError::BadDatabaseUrl("it must start with postgresql://".into()));
    }
    let target = crate::pg_tls::parse(url).map_err(ConfigError::BadDatabaseUrl)?;
    if let Some(ca) = &target.root_cert {
        crate::pg_tls::root_store(ca).map_err(ConfigError::BadDatabaseUrl)?;
    }
    let parsed: tokio_postgres::Config = target
        .driver_url
        .parse()
        .map_err(|e: tokio_postgres::Error| ConfigError::BadDatabaseUrl(e.to_string()))?;
    let local = |host: &tokio_postgres::config::Host| match host {
        tokio_postgres::config::Host::Unix(_) => true,
        tokio_postgres::config::Host::Tcp(name) => {
            name == "localhost"
                || name
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
    };
    if parsed.get_hosts().is_empty() || !(target.tls() || parsed.get_hosts().iter().all(local)) {
        return Err(ConfigError::RemoteDatabase);
    }
    Ok(DatabaseUrl(url.to_string()))
}

/// A 32-byte key from a file of 64 hexadecimal characters (surrounding whitespace ignored).
fn key_file(path: &Path) -> Result<DatabaseKey, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    DatabaseKey::from_hex(&text)
}

/// Demo mode keeps its own key next to its data, readable by the owner only.
fn demo_key(data_dir: &Path) -> Result<DatabaseKey, ConfigError> {
    let path = data_dir.join("demo-database.key");
    if let Ok(text) = std::fs::read_to_string(&path) {
        return DatabaseKey::from_hex(&text);
    }
    let write_err = |source| ConfigError::Write {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(data_dir).map_err(write_err)?;
    let key = DatabaseKey::random();
    write_private(&path, key.to_hex().as_bytes()).map_err(write_err)?;
    Ok(key)
}

/// Writes a file only its owner can read.
pub fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options.open(path)?;
    f.write_all(bytes)
}

/// The plan's member ID rule, compiled (the format was checked when the config was read).
pub fn member_id_rule(format: &MemberIdFormat) -> MemberIdRule {
    MemberIdRule::new(&format.pattern, &format.example).unwrap_or_else(|e| {
        tracing::error!(error = %e, "the member ID format does not compile; using the default");
        MemberIdRule::default()
    })
}
