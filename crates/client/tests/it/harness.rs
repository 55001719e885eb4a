//! A real billing server in process, and engines pointed at it (directly or through the fault
//! proxy), with a temp data dir and an in-memory keyring shared across engine "restarts".

use std::sync::Arc;
use std::time::Duration;

use carebill_client::{ClientConfig, Engine, MemoryStore, SecretStore, SystemClock};
use carebill_server::RunningServer;
use carebill_server::config::ServerConfig;
use carebill_testkit::server::TestServer;

pub use carebill_testkit::server::{DEMO_EMAIL, DEMO_PASSWORD};

pub struct World {
    pub server: Option<RunningServer>,
    pub _server_dir: tempfile::TempDir,
    pub _database: Option<carebill_testkit::server::TestDatabase>,
    pub data: tempfile::TempDir,
    pub secrets: Arc<MemoryStore>,
    pub api_url: String,
}

impl World {
    /// Signs the demo member in over the API, as their other device would; answers the access
    /// token.
    pub async fn token_elsewhere(&self) -> String {
        let tokens = self
            .post(
                "/v1/sessions",
                serde_json::json!({"login": DEMO_EMAIL, "password": DEMO_PASSWORD}),
            )
            .await;
        tokens["access_token"].as_str().unwrap().to_string()
    }

    /// POSTs `body` to the server (no session) and answers the JSON it returns.
    pub async fn post(&self, path: &str, body: serde_json::Value) -> serde_json::Value {
        reqwest::Client::new()
            .post(format!("{}{path}", self.api_url))
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn start() -> World {
        World::start_with(|_| {}).await
    }

    pub async fn start_with(adjust: impl FnOnce(&mut ServerConfig)) -> World {
        World::on(TestServer::builder().configure(adjust).start().await)
    }

    /// A server whose clock stands still at `at`: an upgrade fixture's data stays as old as it
    /// was when it was written, whatever today's date (the nightly clean-up drops unconfirmed
    /// registrations after 72 hours and payment answers after 48).
    pub async fn start_at(at: chrono::DateTime<chrono::Utc>, adjust: impl FnOnce(&mut ServerConfig)) -> World {
        let clock: Arc<dyn carebill_server::Clock> = carebill_server::ManualClock::new(at);
        World::on(TestServer::builder().configure(adjust).clock(clock).start().await)
    }

    fn on(server: TestServer) -> World {
        let TestServer {
            server,
            url,
            dir,
            database,
        } = server;
        World {
            server: Some(server),
            _server_dir: dir,
            _database: database,
            data: tempfile::tempdir().unwrap(),
            secrets: Arc::new(MemoryStore::new()),
            api_url: url,
        }
    }

    /// The demo member's copy on this device, found by its member ID as the engine finds it.
    pub fn member_dir(&self) -> std::path::PathBuf {
        carebill_client::keys::dirs_for_login(self.data.path(), "M200000001")
            .into_iter()
            .next()
            .expect("the demo member's copy")
    }

    pub fn server(&self) -> &RunningServer {
        self.server.as_ref().expect("server running")
    }

    pub fn config(&self, url: &str) -> ClientConfig {
        let mut c = ClientConfig::new(url, self.data.path().to_path_buf());
        c.processor_url = format!("{}/processor", self.api_url);
        c.keyring_service = format!("carebill-test-{}", std::process::id());
        c.request_timeout = Duration::from_secs(10);
        c
    }

    /// A fresh engine (as after an app restart) on the same data dir and keyring.
    pub fn engine(&self) -> Engine {
        self.engine_with(self.config(&self.api_url))
    }

    pub fn engine_with(&self, config: ClientConfig) -> Engine {
        let secrets: Arc<dyn SecretStore> = self.secrets.clone();
        Engine::new(config, secrets, Arc::new(SystemClock)).unwrap()
    }

    pub async fn stop_server(&mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await;
        }
    }

    /// Runs SQL against the server's database.
    pub async fn server_count(&self, sql: String) -> i64 {
        self.server()
            .state
            .db
            .read(move |c| Ok(c.query_row(&sql, [], |r| r.get(0))?))
            .await
            .unwrap()
    }
}

/// The billing office replies in a conversation (as the console does), with `files`, leaving it
/// in `status`.
pub async fn office_replies(
    w: &World,
    reference: &str,
    body: &'static str,
    status: carebill_server::conversations::StaffStatus,
    files: Vec<carebill_server::conversations::StaffFile>,
) {
    let head = w.server().state.letterhead();
    let secret = w.server().state.secret.clone();
    let reference = reference.to_string();
    w.server()
        .state
        .db
        .transaction(move |tx| {
            let reply = carebill_server::conversations::StaffReply {
                reference: &reference,
                staff_name: "Dana, billing office",
                body,
                status,
                files: &files,
                origin: "test",
            };
            carebill_server::conversations::staff_reply(tx, &head, &secret, &reply, 1 << 20, chrono::Utc::now())
        })
        .await
        .unwrap();
}

/// The member's open bills as the copy lists them (up to 200, soonest due first).
pub async fn open_bills(e: &Engine) -> carebill_client::types::BillsPage {
    e.bills(carebill_client::types::BillQuery {
        status: carebill_client::types::BillStatusFilter::Open,
        limit: 200,
        ..Default::default()
    })
    .await
    .unwrap()
}
