//! `carebill-server`: serve the billing API, import a plan's data, or seed benchmark data.

#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use carebill_server::config::{FileConfig, ServerConfig};
use carebill_server::{SystemClock, app, import, kiosk, seed};
use clap::{Args, Parser, Subcommand};
use rand::SeedableRng;

/// mimalloc: the server allocates many short-lived rows and strings per request.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "carebill-server",
    version,
    about = "The Carebill reference billing API server"
)]
struct Cli {
    #[command(flatten)]
    common: Common,
    /// Address to listen on. Plain HTTP is allowed on loopback only.
    #[arg(long, default_value = "127.0.0.1:8787")]
    listen: SocketAddr,
    /// TLS certificate chain (PEM).
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Where the billing office console listens (its own address; "off" for none). Default
    /// `console_listen` from the config file, else 127.0.0.1:8788.
    #[arg(long)]
    console_listen: Option<String>,
    /// Turn off per-address limits (load tests only).
    #[arg(long)]
    no_address_limits: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Args, Clone)]
struct Common {
    /// Where the encrypted database lives.
    #[arg(long, global = true, default_value = "carebill-data")]
    data_dir: PathBuf,
    /// A TOML config file (database key file, SMTP, plan time zone).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Demo mode: seeded data, demo endpoints, loopback only.
    #[arg(long, global = true)]
    demo: bool,
    /// PostgreSQL instead of SQLite in --data-dir. Prefer CAREBILL_DATABASE_URL or
    /// `database_url` in the config file, so a password never sits on the command line.
    #[arg(long, global = true)]
    database_url: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Load a roster (CSV), bills (JSON) and claims (FHIR R4 EOBs), all or nothing.
    Import {
        #[arg(long)]
        roster: Option<PathBuf>,
        #[arg(long)]
        bills: Option<PathBuf>,
        /// FHIR R4 Bundles or NDJSON files (or directories of them, as a Bulk Data export
        /// writes them) of CARIN Blue Button ExplanationOfBenefit resources and the Patient,
        /// Coverage, Organization and Practitioner resources they reference.
        #[arg(long, num_args = 1..)]
        fhir: Vec<PathBuf>,
        /// Refuse the import when a claim's patient is not on the roster (else skipped, counted).
        #[arg(long)]
        strict: bool,
    },
    /// Enroll, list or revoke clinic kiosks (guest pay).
    Kiosk {
        #[command(subcommand)]
        action: KioskAction,
    },
    /// Payments that need the billing office.
    Payments {
        #[command(subcommand)]
        action: PaymentsAction,
    },
    /// Billing office staff accounts for the console (and, in demo, replying from here).
    Staff {
        #[command(subcommand)]
        action: StaffAction,
    },
    /// Write data for the plan's vendors as CSV to standard output.
    Export {
        /// Every roster member's statement delivery (paperless or paper) and language, for the
        /// plan's print-and-mail vendor.
        #[arg(long, required = true)]
        preferences: bool,
    },
    /// The staff audit log: check that no entry was edited, removed or inserted, or export it.
    Audit {
        #[command(subcommand)]
        action: AuditAction,
    },
    /// Move this SQLite deployment (--data-dir, its database key) into an empty PostgreSQL
    /// database (--database-url, CAREBILL_DATABASE_URL or database_url in the config file), in
    /// one transaction, verified table by table. Stop the server first.
    MigrateTo,
    /// Add N generated bills to one member, or with --members, M generated members with N bills
    /// each (accounts member-K@load.carebill.example, the demo password) (for benchmarks).
    Seed {
        #[arg(long)]
        bills: usize,
        #[arg(long, default_value = seed::DEMO_MEMBER_ID)]
        member: String,
        #[arg(long, default_value_t = 0)]
        members: usize,
    },
}

#[derive(Subcommand)]
enum KioskAction {
    /// Enroll a kiosk and print its device credential (shown once; put it in the kiosk's config).
    Enroll {
        /// A name staff will recognize, like "Front desk A".
        #[arg(long)]
        name: String,
    },
    /// Revoke a kiosk: its credential and guest tokens stop working at once.
    Revoke { id: String },
    /// List enrolled kiosks.
    List,
}

#[derive(Subcommand)]
enum AuditAction {
    /// Walk the whole chain: exits 0 when it is intact, 1 naming the first entry that breaks it.
    Verify,
    /// Write the entries as CSV (spreadsheet-safe) to standard output, oldest first.
    Export {
        /// From this day (YYYY-MM-DD, UTC), inclusive.
        #[arg(long)]
        from: Option<chrono::NaiveDate>,
        /// To this day (YYYY-MM-DD, UTC), inclusive.
        #[arg(long)]
        to: Option<chrono::NaiveDate>,
    },
}

#[derive(Subcommand)]
enum StaffAction {
    /// Add a staff account and print its one-time setup code (72 hours): with it, its owner
    /// chooses a password and enrolls an authenticator app in the console. No default passwords.
    Add {
        #[arg(long)]
        email: String,
        /// The display name members see on replies, like "Dana".
        #[arg(long)]
        name: String,
        #[arg(long, value_parser = ["agent", "supervisor"])]
        role: String,
    },
    /// Disable an account: it cannot sign in and its sessions end now.
    Disable {
        #[arg(long)]
        email: String,
    },
    /// Clear an account's authenticator and recovery codes, end its sessions, and print a new
    /// setup code (a lost phone).
    ResetTotp {
        #[arg(long)]
        email: String,
    },
    /// List staff accounts.
    List,
    /// Reply to a member's conversation (by its reference number). The member gets a
    /// "You have a reply" mail without the text.
    Reply {
        /// The conversation's reference, like Q-7K3M9P2X.
        #[arg(long)]
        reference: String,
        /// The staff member's display name, as the member sees it.
        #[arg(long)]
        name: String,
        /// The reply (1 to 2,000 characters).
        #[arg(long)]
        body: String,
        /// Ask the member something: the conversation waits on them.
        #[arg(long, conflicts_with = "close")]
        waiting: bool,
        /// Reply and close the conversation (a hold on its bill ends).
        #[arg(long)]
        close: bool,
        /// A PDF, JPEG or PNG to attach (up to 5), checked like a member's.
        #[arg(long)]
        attach: Vec<PathBuf>,
    },
}

#[derive(Subcommand)]
enum PaymentsAction {
    /// List payments held for review: the processor's charge did not match the payment, so
    /// nothing was settled and the amount stays set aside. Exits 0 with no output when none wait.
    Review,
}

fn main() -> ExitCode {
    let filter = std::env::var("CAREBILL_LOG").unwrap_or_else(|_| "info".into());
    let targets: tracing_subscriber::filter::Targets = filter.parse().unwrap_or_default();
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    tracing_subscriber::registry()
        .with(tracing_subscriber::fmt::layer().with_writer(std::io::stderr))
        .with(targets)
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("carebill-server: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    let mut file = match &cli.common.config {
        Some(path) => FileConfig::load(path)?,
        None => FileConfig::default(),
    };
    // The flag, then the environment, then the file.
    if let Some(url) = cli
        .common
        .database_url
        .clone()
        .or_else(|| std::env::var("CAREBILL_DATABASE_URL").ok().filter(|u| !u.is_empty()))
    {
        file.database_url = Some(url);
    }
    // migrate-to reads SQLite in --data-dir and writes to the URL.
    let move_target = match cli.command {
        Some(Command::MigrateTo) => Some(
            file.database_url
                .take()
                .ok_or("migrate-to needs the target: --database-url, CAREBILL_DATABASE_URL or database_url")?,
        ),
        _ => None,
    };
    if let Some(console) = cli.console_listen.clone() {
        file.console_listen = Some(console);
    }
    let tls = cli.tls_cert.clone().zip(cli.tls_key.clone());
    let mut config = ServerConfig::resolve(
        cli.listen,
        cli.common.data_dir.clone(),
        cli.common.demo,
        tls,
        file,
        std::env::var("CAREBILL_DB_KEY").ok(),
    )?;
    if cli.no_address_limits {
        config.address_limits = false;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match cli.command {
        Some(Command::Import {
            roster,
            bills,
            fhir,
            strict,
        }) => {
            let db = app::open_database(&config)?;
            let rule = config
                .plan
                .as_ref()
                .map(|p| carebill_server::config::member_id_rule(&p.member_id))
                .unwrap_or_default();
            let sources = import::Sources {
                roster: roster.as_deref(),
                bills: bills.as_deref(),
                fhir: &fhir,
                strict,
            };
            let s = import::import(&db, &sources, &rule, chrono::Utc::now())?;
            println!("Imported {} roster members and {} bills.", s.members, s.bills);
            if !fhir.is_empty() {
                println!(
                    "Claims: {} added, {} updated, {} cancelled or replaced; {} skipped (patient not on the roster).",
                    s.claims_added, s.claims_updated, s.claims_hidden, s.claims_skipped
                );
            }
            Ok(())
        }
        Some(Command::Kiosk { action }) => {
            let db = app::open_database(&config)?;
            let now = chrono::Utc::now();
            db.with_writer(|conn| -> Result<(), Box<dyn std::error::Error>> {
                match action {
                    KioskAction::Enroll { name } => {
                        let k = kiosk::enroll(conn, &name, now).map_err(|e| e.describe())?;
                        println!("Enrolled kiosk {} ({}).", k.id, k.name);
                        println!("Device credential (shown once; put it in the kiosk's config.toml):");
                        println!("{}", k.credential);
                    }
                    KioskAction::Revoke { id } => {
                        if !kiosk::revoke(conn, &id, now).map_err(|e| e.describe())? {
                            return Err(format!("no enrolled, unrevoked kiosk {id}").into());
                        }
                        println!("Revoked kiosk {id}.");
                    }
                    KioskAction::List => {
                        for k in kiosk::list(conn).map_err(|e| e.describe())? {
                            let since = chrono::DateTime::from_timestamp_millis(k.created_at).unwrap_or_default();
                            let state = if k.revoked { "revoked" } else { "active" };
                            println!("{}\t{}\t{state}\tenrolled {}", k.id, k.name, since.format("%Y-%m-%d"));
                        }
                    }
                }
                Ok(())
            })
        }
        Some(Command::Payments {
            action: PaymentsAction::Review,
        }) => {
            let db = app::open_database(&config)?;
            let held = db.with_writer(|conn| {
                carebill_server::store::payments::held_for_review(conn).map_err(|e| e.describe())
            })?;
            for p in held {
                println!(
                    "{}\t{}\tmember {}\t{}\tcharge {}\t{}\t{}",
                    p.id,
                    p.confirmation_number,
                    p.member_id,
                    p.amount.display_usd(),
                    p.processor_charge_id.as_deref().unwrap_or("-"),
                    p.created_at.format("%Y-%m-%d %H:%M UTC"),
                    p.reason,
                );
            }
            Ok(())
        }
        Some(Command::Staff {
            action:
                action @ (StaffAction::Add { .. }
                | StaffAction::Disable { .. }
                | StaffAction::ResetTotp { .. }
                | StaffAction::List),
        }) => staff_accounts(&config, action),
        Some(Command::Staff {
            action:
                StaffAction::Reply {
                    reference,
                    name,
                    body,
                    waiting,
                    close,
                    attach,
                },
        }) => {
            if !config.demo {
                return Err("staff reply is for demo and development servers (--demo); \
                            billing staff answer in the staff console"
                    .into());
            }
            let mut files = Vec::new();
            for path in &attach {
                let file_name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
                files.push(carebill_server::conversations::StaffFile { file_name, bytes });
            }
            let status = if close {
                carebill_server::conversations::StaffStatus::Closed
            } else if waiting {
                carebill_server::conversations::StaffStatus::WaitingOnMember
            } else {
                carebill_server::conversations::StaffStatus::Answered
            };
            let db = app::open_database(&config)?;
            let head = carebill_server::mail::Letterhead {
                demo: config.demo,
                plan: Arc::new(config.plan()?.clone()),
            };
            let max = config.max_attachment_bytes;
            let secret = app::load_secret(&db, config.server_secret.as_ref())?;
            let c = db
                .with_writer(|conn| {
                    conn.transaction(|tx| {
                        let reply = carebill_server::conversations::StaffReply {
                            reference: &reference,
                            staff_name: &name,
                            body: &body,
                            status,
                            files: &files,
                            origin: "command line",
                        };
                        carebill_server::conversations::staff_reply(tx, &head, &secret, &reply, max, chrono::Utc::now())
                    })
                })
                .map_err(|e| e.describe())?;
            println!(
                "Replied to {} ({} messages, now {}).",
                c.reference,
                c.messages.len(),
                c.status.as_str()
            );
            Ok(())
        }
        Some(Command::Export { .. }) => {
            let db = app::open_database(&config)?;
            let n = db
                .with_writer(|conn| carebill_server::notifications::export_preferences(conn, std::io::stdout().lock()))
                .map_err(|e| e.describe())?;
            eprintln!("Exported {n} members' statement preferences.");
            Ok(())
        }
        Some(Command::Audit { action }) => {
            let db = app::open_database(&config)?;
            match action {
                AuditAction::Verify => {
                    let secret = app::load_secret(&db, config.server_secret.as_ref())?;
                    let verdict = db
                        .with_writer(|conn| carebill_server::staff_audit::verify(conn, &secret))
                        .map_err(|e| e.describe())?;
                    match verdict {
                        carebill_server::staff_audit::Verdict::Intact { entries, first, last } => {
                            match (first, last) {
                                (Some(first), Some(last)) => {
                                    println!("The staff audit log is intact: {entries} entries, {first} to {last}.")
                                }
                                _ => println!("The staff audit log is intact: no entries yet."),
                            }
                            Ok(())
                        }
                        carebill_server::staff_audit::Verdict::Broken { seq, why } => {
                            Err(format!("the staff audit log is broken at entry {seq}: {why}").into())
                        }
                    }
                }
                AuditAction::Export { from, to } => {
                    let at = |d: chrono::NaiveDate, end: bool| {
                        let t = if end {
                            d.and_hms_milli_opt(23, 59, 59, 999)
                        } else {
                            d.and_hms_opt(0, 0, 0)
                        };
                        t.map(|t| t.and_utc())
                    };
                    let (from, to) = (from.and_then(|d| at(d, false)), to.and_then(|d| at(d, true)));
                    let n = db
                        .with_writer(|conn| {
                            carebill_server::staff_audit::export_csv(conn, std::io::stdout().lock(), from, to)
                        })
                        .map_err(|e| e.describe())?;
                    eprintln!("Exported {n} entries.");
                    Ok(())
                }
            }
        }
        Some(Command::MigrateTo) => {
            let target = carebill_server::config::check_database_url(&move_target.unwrap_or_default())?;
            let moved = carebill_server::migrate_to::migrate_to(&config, &target)?;
            for table in &moved {
                println!("{:<24}{:>10} rows  {}", table.table, table.rows, table.checksum);
            }
            let rows: u64 = moved.iter().map(|t| t.rows).sum();
            println!(
                "Moved {rows} rows in {} tables to PostgreSQL; every table's row count and checksum matched.",
                moved.len()
            );
            Ok(())
        }
        Some(Command::Seed { bills, members, .. }) if members > 0 => {
            let db = app::open_database(&config)?;
            let now = chrono::Utc::now();
            let processor = carebill_server::processor::sandbox::SandboxProcessor::for_config(&config)?;
            seed::seed_demo_if_empty(&db, &config, now, &processor).map_err(|e| e.describe())?;
            let added = seed::add_members(&db, &processor, members, bills, config.calendar.date_at(now), now)
                .map_err(|e| e.describe())?;
            db.with_writer(|conn| {
                carebill_server::store::refresh_statistics(conn, carebill_server::store::BILL_TABLES)
            })
            .map_err(|e| e.describe())?;
            println!("Added {} members with {bills} bills each.", added.len());
            Ok(())
        }
        Some(Command::Seed { bills, member, .. }) => {
            let db = app::open_database(&config)?;
            let now = chrono::Utc::now();
            let processor = carebill_server::processor::sandbox::SandboxProcessor::for_config(&config)?;
            seed::seed_demo_if_empty(&db, &config, now, &processor).map_err(|e| e.describe())?;
            let today = config.calendar.date_at(now);
            let mut rng = rand::rngs::StdRng::seed_from_u64(bills as u64);
            db.with_writer(|conn| {
                conn.transaction(|tx| seed::add_bills(tx, &mut rng, &member, bills, today, now).map(|_| ()))?;
                carebill_server::store::refresh_statistics(conn, carebill_server::store::BILL_TABLES)
            })
            .map_err(|e| e.describe())?;
            println!("Added {bills} bills to {member}.");
            Ok(())
        }
        None => runtime.block_on(async {
            let demo = config.demo;
            let tls = config.tls.is_some();
            let server = app::start(config, Arc::new(SystemClock)).await?;
            let scheme = if tls { "https" } else { "http" };
            println!("Carebill billing API listening on {scheme}://{}", server.addr);
            if demo {
                println!("  Demo mode (data is made up; mail goes to the mailbox below)");
                println!("  Demo account:  {} / {}", seed::DEMO_EMAIL, seed::DEMO_PASSWORD);
                println!(
                    "  Register as:   member ID {}, Alex Rivera, born 1985-04-12",
                    seed::UNREGISTERED_MEMBER_ID
                );
                let statements = server.state.db.read(seed::guest_statements).await.unwrap_or_default();
                println!(
                    "  Guest pay:     statement {} (Alex Rivera, born 1985-04-12)",
                    statements.join(" or ")
                );
                println!("  Kiosk device credential: {}", seed::DEMO_KIOSK_CREDENTIAL);
                println!("  Mailbox:       {scheme}://{}/dev/mailbox", server.addr);
                if server.console_addr.is_some() {
                    let key = carebill_server::staff::key_base32(seed::DEMO_TOTP_KEY);
                    println!(
                        "  Staff console: agent {} / {}, supervisor {} / {}",
                        seed::DEMO_AGENT_EMAIL,
                        seed::DEMO_STAFF_PASSWORD,
                        seed::DEMO_SUPERVISOR_EMAIL,
                        seed::DEMO_STAFF_PASSWORD
                    );
                    println!("  Staff authenticator key (both, demo only): {key}");
                }
            }
            if let Some(console) = server.console_addr {
                println!("Billing office console: {scheme}://{console}/");
            }
            println!("Ready. Press Ctrl-C to stop.");
            server.run_until_signal().await;
            Ok(())
        }),
    }
}

/// `staff add | disable | reset-totp | list`.
fn staff_accounts(config: &ServerConfig, action: StaffAction) -> Result<(), Box<dyn std::error::Error>> {
    use carebill_server::staff;
    let db = app::open_database(config)?;
    let secret = app::load_secret(&db, config.server_secret.as_ref())?;
    let now = chrono::Utc::now();
    let origin = "command line";
    let console = match config.console_listen {
        Some(a) => format!("{}://{a}/", if config.tls.is_some() { "https" } else { "http" }),
        None => "the console".to_string(),
    };
    db.with_writer(|conn| -> Result<(), Box<dyn std::error::Error>> {
        match action {
            StaffAction::Add { email, name, role } => {
                let role = staff::Role::parse(&role).ok_or("role is agent or supervisor")?;
                let (a, code) = conn
                    .transaction(|tx| staff::add(tx, &secret, &email, &name, role, origin, now))
                    .map_err(|e| e.describe())?;
                println!("Added {} <{}> ({}).", a.name, a.email, a.role.as_str());
                println!("One-time setup code (72 hours; give it to them in person or by phone):");
                println!("  {code}");
                println!("They open {console}setup and enter it to choose a password and enroll an authenticator app.");
            }
            StaffAction::Disable { email } => {
                let a = conn
                    .transaction(|tx| staff::disable(tx, &secret, &email, origin, now))
                    .map_err(|e| e.describe())?;
                println!(
                    "Disabled {} <{}>: their sessions ended and they cannot sign in.",
                    a.name, a.email
                );
            }
            StaffAction::ResetTotp { email } => {
                let code = conn
                    .transaction(|tx| staff::reset_totp(tx, &secret, &email, origin, now))
                    .map_err(|e| e.describe())?;
                println!("Cleared the authenticator and recovery codes of {email}; their sessions ended.");
                println!("New one-time setup code (72 hours):");
                println!("  {code}");
                println!("They open {console}setup and enter it to choose a password and enroll again.");
            }
            StaffAction::List => {
                for a in staff::list(conn).map_err(|e| e.describe())? {
                    let state = match (a.disabled, a.enrolled) {
                        (true, _) => "disabled",
                        (false, true) => "active",
                        (false, false) => "waiting for setup",
                    };
                    println!(
                        "{}\t{}\t{}\t{}\t{state}\tadded {}",
                        a.id,
                        a.email,
                        a.name,
                        a.role.as_str(),
                        a.created_at.format("%Y-%m-%d")
                    );
                }
            }
            StaffAction::Reply { .. } => return Err("staff reply is handled on its own".into()),
        }
        Ok(())
    })
}
