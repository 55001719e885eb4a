//! A real billing server in process: loopback port 0, a temp data dir, demo mode (seeded data,
//! the demo mailbox), no background scheduler (tests run it when they want), two password hashers.
//!
//! The database is SQLite in the temp dir, or, when `CAREBILL_TEST_POSTGRES` names a URL template
//! with `{db}` for the database name (`cargo xtask test` sets it for its PostgreSQL run), a fresh
//! database of its own in that cluster.

use std::sync::Arc;

use carebill_server::config::ServerConfig;
use carebill_server::processor::PaymentProcessor;
use carebill_server::{Clock, RunningServer, SystemClock};

pub use carebill_server::seed::{DEMO_EMAIL, DEMO_PASSWORD};

type Adjust<'a> = Box<dyn FnOnce(&mut ServerConfig) + 'a>;
type MakeProcessor<'a> = Box<dyn FnOnce(&ServerConfig) -> Option<Arc<dyn PaymentProcessor>> + Send + 'a>;

/// A running test server and the temp dir it keeps its data in (removed when dropped), and on
/// PostgreSQL the database made for it (dropped when dropped).
pub struct TestServer {
    pub server: RunningServer,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    pub dir: tempfile::TempDir,
    pub database: Option<TestDatabase>,
}

impl TestServer {
    pub fn builder<'a>() -> TestServerBuilder<'a> {
        TestServerBuilder {
            adjust: Vec::new(),
            clock: Arc::new(SystemClock),
            processor: None,
            dir: None,
            capture_logs: true,
        }
    }

    pub async fn stop(self) {
        self.server.stop().await;
    }

    /// Gives the demo member `count` more open bills, drawn from `seed` (the same bills for the
    /// same seed), dated on the server's business day.
    pub async fn add_demo_bills(&self, count: usize, seed: u64) {
        use rand::SeedableRng;
        let state = &self.server.state;
        let (now, today) = (state.now(), state.business.today());
        state
            .db
            .transaction(move |tx| {
                let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
                carebill_server::seed::add_bills(
                    tx,
                    &mut rng,
                    carebill_server::seed::DEMO_MEMBER_ID,
                    count,
                    today,
                    now,
                )?;
                Ok(())
            })
            .await
            .expect("the demo bills are added");
    }
}

pub struct TestServerBuilder<'a> {
    adjust: Vec<Adjust<'a>>,
    clock: Arc<dyn Clock>,
    processor: Option<MakeProcessor<'a>>,
    dir: Option<tempfile::TempDir>,
    capture_logs: bool,
}

impl<'a> TestServerBuilder<'a> {
    /// Changes the config after the test defaults are set.
    pub fn configure(mut self, adjust: impl FnOnce(&mut ServerConfig) + 'a) -> Self {
        self.adjust.push(Box::new(adjust));
        self
    }

    /// The server's clock (the system clock unless set).
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// A processor built from the config (e.g. a faulty wrapper around the sandbox).
    pub fn processor(
        mut self,
        make: impl FnOnce(&ServerConfig) -> Option<Arc<dyn PaymentProcessor>> + Send + 'a,
    ) -> Self {
        self.processor = Some(Box::new(make));
        self
    }

    /// The data dir (to restart a server on the data of an earlier one).
    pub fn dir(mut self, dir: tempfile::TempDir) -> Self {
        self.dir = Some(dir);
        self
    }

    /// Limits as a demo server has them: many payments a day (journeys and benchmarks).
    pub fn generous_payment_limits(self) -> Self {
        self.configure(|c| c.payment_limits = carebill_server::config::PaymentLimits::generous())
    }

    /// Leaves logging alone (the test sets up its own).
    pub fn without_log_capture(mut self) -> Self {
        self.capture_logs = false;
        self
    }

    pub async fn start(self) -> TestServer {
        // The tests' HTTP clients use rustls with the process's provider (reqwest's
        // `rustls-no-provider`), as the app does.
        let _ = rustls::crypto::ring::default_provider().install_default();
        if self.capture_logs {
            crate::logs::capture();
        }
        let dir = match self.dir {
            Some(d) => d,
            None => tempfile::tempdir().expect("a temp dir for the server"),
        };
        let mut config = ServerConfig::new("127.0.0.1:0".parse().expect("loopback"), dir.path().to_path_buf());
        // The PostgreSQL client is synchronous: never on the test's async worker.
        let mut database = std::thread::spawn(postgres_database)
            .join()
            .expect("the test database is made");
        config.database_url = database
            .as_ref()
            .map(|d| carebill_server::config::DatabaseUrl(d.url.clone()));
        config.demo = true;
        config.hash_concurrency = 2;
        config.scheduler_every = None;
        for adjust in self.adjust {
            adjust(&mut config);
        }
        // A test that chose another database (or SQLite) does not keep the one made for it.
        if database.as_ref().map(|d| &d.url) != config.database_url.as_ref().map(|u| &u.0) {
            database = None;
        }
        // A processor may open a database connection: never on the test's async worker.
        let processor = self
            .processor
            .and_then(|make| std::thread::scope(|s| s.spawn(|| make(&config)).join().expect("the processor is made")));
        let server = carebill_server::start_with(config, self.clock, processor)
            .await
            .expect("the test server starts");
        let url = format!("http://{}", server.addr);
        TestServer {
            server,
            url,
            dir,
            database,
        }
    }
}

/// The URL template of the PostgreSQL cluster the tests run on, if they run on one.
pub const POSTGRES_ENV: &str = "CAREBILL_TEST_POSTGRES";

/// A new, empty database in the test cluster (`None`: the tests run on SQLite), dropped with its
/// handle, so a run of hundreds of tests never holds more than the running ones' databases.
pub fn postgres_database() -> Option<TestDatabase> {
    let template = std::env::var(POSTGRES_ENV).ok().filter(|t| !t.is_empty())?;
    let name = format!("t_{:016x}", rand::random::<u64>());
    let admin = template.replace("{db}", "postgres");
    postgres::Client::connect(&admin, postgres::NoTls)
        .expect("the test cluster answers")
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .expect("a test database is created");
    Some(TestDatabase {
        url: template.replace("{db}", &name),
        admin,
        name,
    })
}

/// A database of the test cluster, dropped (its connections closed) when this is dropped.
pub struct TestDatabase {
    pub url: String,
    admin: String,
    name: String,
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // The PostgreSQL client is synchronous: on a thread of its own, never on a test's async
        // worker, and not waited for (dropping a database waits for a checkpoint; the test is
        // done). A cluster already stopped has nothing left to drop.
        let (admin, name) = (self.admin.clone(), self.name.clone());
        std::thread::spawn(move || {
            if let Ok(mut client) = postgres::Client::connect(&admin, postgres::NoTls) {
                let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        });
    }
}
