//! A real billing server in process: loopback port 0, a temp data dir, demo mode (seeded data,
//! the demo mailbox), no background scheduler (tests run it when they want), two password hashers.

use std::sync::Arc;

use carebill_server::config::ServerConfig;
use carebill_server::processor::PaymentProcessor;
use carebill_server::{Clock, RunningServer, SystemClock};

pub use carebill_server::seed::{DEMO_EMAIL, DEMO_PASSWORD};

type Adjust<'a> = Box<dyn FnOnce(&mut ServerConfig) + 'a>;
type MakeProcessor<'a> = Box<dyn FnOnce(&ServerConfig) -> Option<Arc<dyn PaymentProcessor>> + 'a>;

/// A running test server and the temp dir it keeps its data in (removed when dropped).
pub struct TestServer {
    pub server: RunningServer,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    pub dir: tempfile::TempDir,
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
    pub fn processor(mut self, make: impl FnOnce(&ServerConfig) -> Option<Arc<dyn PaymentProcessor>> + 'a) -> Self {
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
        if self.capture_logs {
            crate::logs::capture();
        }
        let dir = match self.dir {
            Some(d) => d,
            None => tempfile::tempdir().expect("a temp dir for the server"),
        };
        let mut config = ServerConfig::new("127.0.0.1:0".parse().expect("loopback"), dir.path().to_path_buf());
        config.demo = true;
        config.hash_concurrency = 2;
        config.scheduler_every = None;
        for adjust in self.adjust {
            adjust(&mut config);
        }
        let processor = self.processor.and_then(|make| make(&config));
        let server = carebill_server::start_with(config, self.clock, processor)
            .await
            .expect("the test server starts");
        let url = format!("http://{}", server.addr);
        TestServer { server, url, dir }
    }
}
