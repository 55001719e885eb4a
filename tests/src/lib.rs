//! The end-to-end harness: the real billing server in process on 127.0.0.1:0, and the real app
//! (`target/debug/carebill`) in a WebKit window driven over WebDriver through tauri-driver.
//!
//! Each app launch gets its own tauri-driver on its own ports, started with that test's
//! environment (API URL, XDG directories, keyring service name), because tauri-driver passes no
//! environment to the app. Run through `cargo xtask test`, which provides Xvfb, a D-Bus session
//! with an unlocked keyring, tauri-driver and a built app.

#![forbid(unsafe_code)]

pub mod notifications;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use carebill_server::RunningServer;
use carebill_testkit::server::TestServer;
use chrono::Timelike;
use serde_json::{Value, json};
use thirtyfour::prelude::*;

pub use carebill_testkit::server::{DEMO_EMAIL, DEMO_PASSWORD};
pub const WAIT: Duration = Duration::from_secs(20);

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The app under test: target/debug/carebill, or `CAREBILL_APP` (the startup harness's release build).
pub fn app_binary() -> PathBuf {
    std::env::var_os("CAREBILL_APP")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/debug/carebill"))
}

/// The billing server's command line: target/debug/carebill-server, or `CAREBILL_SERVER`.
pub fn server_binary() -> PathBuf {
    std::env::var_os("CAREBILL_SERVER")
        .map(PathBuf::from)
        .unwrap_or_else(|| root().join("target/debug/carebill-server"))
}

fn free_port() -> u16 {
    free_ports::<1>()[0]
}

/// `N` distinct free loopback ports: every listener is held until all are known, so the kernel
/// cannot hand the same port out twice (tauri-driver and WebKitWebDriver on one port never start).
fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<TcpListener> = (0..N)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    std::array::from_fn(|i| listeners[i].local_addr().expect("a bound port").port())
}

fn wait_port(port: u16, within: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < within {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A running WebDriver server (tauri-driver, or chromedriver for the console), stopped when
/// dropped: a start that fails before an [`App`] owns it leaves nothing running.
struct Driver(Child);

impl Driver {
    fn spawn(cmd: &mut Command, what: &str) -> Driver {
        Driver(cmd.spawn().unwrap_or_else(|e| panic!("{what} starts: {e}")))
    }

    /// SIGTERM (SIGKILL would orphan WebKitWebDriver and the app), then SIGKILL if it is still
    /// there after 10 s. Stopping a stopped driver does nothing.
    fn stop(&mut self) {
        let driver = &mut self.0;
        if !matches!(driver.try_wait(), Ok(None)) {
            return;
        }
        let _ = Command::new("kill").arg("-TERM").arg(driver.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && matches!(driver.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = driver.kill();
        let _ = driver.wait();
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Process ids of running copies of the app binary (Linux: by /proc/PID/exe).
pub fn app_processes() -> Vec<u32> {
    let app = std::fs::canonicalize(app_binary()).unwrap_or_else(|_| app_binary());
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()))
        .filter(|pid| std::fs::read_link(format!("/proc/{pid}/exe")).is_ok_and(|exe| exe == app))
        .collect()
}

/// The app is single-instance: a launch while the previous window is still closing would only
/// focus that one and exit. So every quit waits until the app is really gone (and ends it with
/// SIGTERM after 10 s).
pub async fn wait_for_app_exit() {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if app_processes().is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for pid in app_processes() {
        let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
}

/// The billing server of one test.
pub struct Backend {
    pub server: Option<RunningServer>,
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Backend {
    pub async fn start() -> Backend {
        let started = TestServer::builder()
            // As a demo server: the journeys and the interaction benchmark pay many times a day.
            .configure(|config| config.payment_limits = carebill_server::config::PaymentLimits::generous())
            .without_log_capture()
            .start()
            .await;
        Backend {
            server: Some(started.server),
            url: started.url,
            _dir: started.dir,
        }
    }

    pub fn state(&self) -> &carebill_server::state::AppState {
        &self.server.as_ref().expect("server running").state
    }

    pub async fn stop(&mut self) {
        if let Some(s) = self.server.take() {
            s.stop().await;
        }
    }

    /// The newest mail to `to`, from the demo mailbox.
    pub async fn last_mail_to(&self, to: &str) -> Value {
        let mails: Vec<Value> = reqwest::get(format!("{}/dev/mailbox", self.url))
            .await
            .expect("mailbox")
            .json()
            .await
            .expect("json");
        mails
            .into_iter()
            .rev()
            .find(|m| m["to"] == to)
            .unwrap_or_else(|| panic!("no mail to {to}"))
    }

    /// One number from the server's database.
    pub async fn query_i64(&self, sql: String) -> i64 {
        self.state()
            .db
            .read(move |c| Ok(c.query_row(&sql, [], |r| r.get(0))?))
            .await
            .expect("query")
    }

    /// Signs in over the API (not through the app) and returns the access token.
    pub async fn token(&self, login: &str, password: &str) -> String {
        let body = self
            .post(
                "/v1/sessions",
                json!({"login": login, "password": password, "remember_device": false}),
            )
            .await;
        body["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("sign-in failed: {body}"))
            .to_string()
    }

    /// GET with a bearer token.
    pub async fn get(&self, token: &str, path: &str) -> Value {
        let r = reqwest::Client::new()
            .get(format!("{}{path}", self.url))
            .bearer_auth(token)
            .send()
            .await
            .expect("get");
        r.json().await.expect("json")
    }

    /// DELETE with a bearer token; answers the status.
    pub async fn delete(&self, token: &str, path: &str) -> reqwest::StatusCode {
        reqwest::Client::new()
            .delete(format!("{}{path}", self.url))
            .bearer_auth(token)
            .send()
            .await
            .expect("delete")
            .status()
    }

    /// Every open bill of the member, as the server lists them.
    pub async fn open_bills(&self, token: &str) -> Vec<Value> {
        let mut all = Vec::new();
        let mut cursor = String::new();
        loop {
            let page = self
                .get(token, &format!("/v1/bills?status=open&limit=100&cursor={cursor}"))
                .await;
            all.extend(page["data"].as_array().cloned().unwrap_or_default());
            if page["has_more"] != true {
                return all;
            }
            cursor = page["next_cursor"].as_str().unwrap_or_default().to_string();
        }
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        let r = reqwest::Client::new()
            .post(format!("{}{path}", self.url))
            .json(&body)
            .send()
            .await
            .expect("post");
        r.json().await.unwrap_or(Value::Null)
    }

    /// Moves the business clock forward to the coming noon hour in the plan's time zone (not at
    /// all if it is that hour now), so that a test which then moves it by an hour or two never
    /// turns the business day, whatever the time of day it runs at: a turning day is news to the
    /// app (bills fall due soon), which such a test does not expect.
    pub async fn business_clock_to_noon(&self) {
        let business = &self.state().business;
        let local = business.now().with_timezone(&business.calendar().time_zone());
        let hours = (12 + 24 - local.hour()) % 24;
        if hours > 0 {
            self.post("/dev/clock", json!({"advance": format!("PT{hours}H")})).await;
        }
    }
}

impl Backend {
    /// The address of the server's billing office console.
    pub fn console_url(&self) -> String {
        let addr = self
            .server
            .as_ref()
            .and_then(|s| s.console_addr)
            .expect("the console listens");
        format!("http://{addr}")
    }

    /// The demo staff's authenticator code now, by the server's clock.
    pub fn staff_code(&self) -> String {
        use carebill_server::{seed, staff};
        staff::current_code(&staff::key_base32(seed::DEMO_TOTP_KEY), self.state().now()).expect("a code")
    }
}

/// Signs a demo staff member in on the console's sign-in screen, up to the inbox.
pub async fn sign_in_staff(console: &App, backend: &Backend, email: &str) {
    console.screen("Sign in to the billing office console").await;
    console.fill("email", email).await;
    console
        .fill("password", carebill_server::seed::DEMO_STAFF_PASSWORD)
        .await;
    console.fill("code", &backend.staff_code()).await;
    console.click("Sign in").await;
    console.screen("Inbox").await;
}

/// Where one app instance keeps its files and secrets; reused across restarts.
pub struct AppHome {
    pub dir: tempfile::TempDir,
    pub keyring_service: String,
}

impl AppHome {
    pub fn new() -> AppHome {
        AppHome {
            dir: tempfile::tempdir().expect("temp dir"),
            keyring_service: format!("carebill-e2e-{}-{}", std::process::id(), free_port()),
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The environment an app of this home runs with: its API, keyring service and XDG folders.
    pub fn env(&self, api_url: &str) -> Vec<(String, std::ffi::OsString)> {
        let dir = self.dir.path();
        vec![
            ("CAREBILL_API_URL".into(), api_url.into()),
            ("CAREBILL_KEYRING_SERVICE".into(), self.keyring_service.clone().into()),
            ("XDG_DATA_HOME".into(), dir.join("data").into()),
            ("XDG_CONFIG_HOME".into(), dir.join("config").into()),
            ("XDG_CACHE_HOME".into(), dir.join("cache").into()),
            ("NO_AT_BRIDGE".into(), "1".into()),
            // Every test runs in one locale, whatever the machine's.
            ("LANG".into(), "en_US.UTF-8".into()),
            ("LC_ALL".into(), "en_US.UTF-8".into()),
        ]
    }
}

impl Default for AppHome {
    fn default() -> Self {
        AppHome::new()
    }
}

/// A running app under WebDriver.
pub struct App {
    pub wd: WebDriver,
    driver: Driver,
    /// Chromium's own profile directory (the console), removed with the browser.
    _profile: Option<tempfile::TempDir>,
}

/// A test that fails midway still stops its driver (and with it WebKitWebDriver and the app),
/// before the WebDriver client goes.
impl Drop for App {
    fn drop(&mut self) {
        self.driver.stop();
    }
}

impl App {
    pub async fn launch(api_url: &str, home: &AppHome) -> App {
        Self::launch_with(api_url, home, &[]).await
    }

    pub async fn launch_with(api_url: &str, home: &AppHome, extra_env: &[(&str, &str)]) -> App {
        assert!(
            std::env::var_os("DISPLAY").is_some(),
            "end-to-end tests need a display: run them through `cargo xtask test`"
        );
        let [port, native] = free_ports();
        let mut cmd = Command::new(std::env::var("TAURI_DRIVER").unwrap_or_else(|_| "tauri-driver".into()));
        cmd.args(["--port", &port.to_string(), "--native-port", &native.to_string()])
            .envs(home.env(api_url))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        for (k, v) in extra_env {
            cmd.env(k, v);
        }
        wait_for_app_exit().await;
        let driver = Driver::spawn(&mut cmd, "tauri-driver (cargo install tauri-driver)");
        assert!(
            wait_port(port, Duration::from_secs(10)) && wait_port(native, Duration::from_secs(10)),
            "tauri-driver and WebKitWebDriver listen"
        );
        // thirtyfour's HTTP client takes rustls's process-wide provider; a workspace build can
        // turn on reqwest's `rustls-no-provider`, so name the one this workspace uses.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut caps = serde_json::Map::new();
        caps.insert("tauri:options".into(), json!({"application": app_binary()}));
        let wd = WebDriver::builder(format!("http://127.0.0.1:{port}"), caps)
            .request_timeout(Duration::from_secs(60))
            .await
            .expect("a WebDriver session");
        App {
            wd,
            driver,
            _profile: None,
        }
    }

    /// A page in Debian's Chromium (headless, its own profile) under its chromedriver, instead of
    /// the app: the billing office console. The same helpers (screens, fields, axe) work on it.
    pub async fn browse(url: &str) -> App {
        let port = free_port();
        let profile = tempfile::tempdir().expect("a Chromium profile directory");
        let driver = Driver::spawn(
            Command::new(std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into()))
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
            "chromedriver (Debian package chromium-driver)",
        );
        assert!(wait_port(port, Duration::from_secs(10)), "chromedriver listens");
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut caps = serde_json::Map::new();
        caps.insert("browserName".into(), json!("chrome"));
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into()),
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--window-size=1280,900", "--no-first-run", "--disable-extensions",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            }),
        );
        let wd = WebDriver::builder(format!("http://127.0.0.1:{port}"), caps)
            .request_timeout(Duration::from_secs(60))
            .await
            .expect("a Chromium WebDriver session");
        wd.goto(url).await.expect("the page opens");
        App {
            wd,
            driver,
            _profile: Some(profile),
        }
    }

    /// Closes the app and its driver.
    pub async fn quit(mut self) {
        let _ = self.wd.clone().quit().await;
        self.driver.stop();
        wait_for_app_exit().await;
    }

    /// Ends the app the hard way (SIGKILL, as a crash or a power cut would), then its driver.
    pub async fn kill(mut self) {
        let pids = app_processes();
        assert!(!pids.is_empty(), "the app is running");
        for pid in pids {
            let _ = Command::new("kill").arg("-KILL").arg(pid.to_string()).status();
        }
        wait_for_app_exit().await;
        self.driver.stop();
    }

    /// Calls an app command the way the UI does (the same capability applies) and returns its
    /// answer, or `{"error": ...}` when it fails.
    pub async fn invoke(&self, command: &str, args: Value) -> Value {
        let answer = self
            .wd
            .execute_async(
                "const [cmd, args, done] = arguments;
                 window.__TAURI_INTERNALS__.invoke(cmd, args)
                   .then(v => done(JSON.stringify({ ok: v ?? null })))
                   .catch(e => done(JSON.stringify({ error: e })));",
                vec![json!(command), args],
            )
            .await
            .expect("invoke runs");
        let v: Value = serde_json::from_str(answer.json().as_str().unwrap_or("null")).expect("invoke json");
        v.get("ok").cloned().unwrap_or(v)
    }

    /// Waits until the page is visible: on Linux the app builds its window hidden and shows it
    /// once built (`src-tauri/src/window.rs`, `open_window`); WebKit says `hidden` until then.
    pub async fn window_shown(&self) {
        self.until("the window shown (document.visibilityState)", || async {
            self.wd
                .execute("return document.visibilityState;", vec![])
                .await
                .is_ok_and(|v| v.json() == "visible")
        })
        .await;
    }

    /// Waits until `check` is true (polling), or fails with `what`.
    pub async fn until<F, Fut>(&self, what: &str, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let start = Instant::now();
        while start.elapsed() < WAIT {
            if check().await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let h1 = self.h1().await;
        panic!("timed out waiting for {what} (the screen says {h1:?})");
    }

    pub async fn h1(&self) -> String {
        match self.wd.find(By::Css("main h1")).await {
            Ok(e) => e.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Waits for the screen whose heading contains `text`.
    pub async fn screen(&self, text: &str) {
        let want = text.to_string();
        self.until(&format!("the screen {text:?}"), || {
            let want = want.clone();
            async move { self.h1().await.contains(&want) }
        })
        .await;
    }

    pub async fn body_text(&self) -> String {
        match self.wd.find(By::Tag("body")).await {
            Ok(b) => b.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        }
    }

    /// Waits until the page shows `text`.
    pub async fn sees(&self, text: &str) {
        let want = text.to_string();
        self.until(&format!("the text {text:?}"), || {
            let want = want.clone();
            async move { self.body_text().await.contains(&want) }
        })
        .await;
    }

    pub async fn fill(&self, id: &str, value: &str) {
        let input = self
            .wd
            .find(By::Id(id))
            .await
            .unwrap_or_else(|_| panic!("no field #{id}"));
        input.clear().await.expect("clear");
        input.send_keys(value).await.expect("type");
    }

    /// Types a test card into the card form (expiry 12/2031, CVC 123, ZIP 94110), and the name
    /// when the form does not already have one.
    pub async fn fill_card(&self, number: &str, name: Option<&str>) {
        for (id, value) in [
            ("card-number", number),
            ("card-exp-month", "12"),
            ("card-exp-year", "2031"),
            ("card-cvc", "123"),
            ("card-postal", "94110"),
        ] {
            self.fill(id, value).await;
        }
        if let Some(name) = name {
            self.fill("card-name", name).await;
        }
    }

    /// Clicks the element `xpath` names, waiting until it is there and takes the click.
    pub async fn click_xpath(&self, xpath: &str) {
        self.until(&format!("{xpath} to be clickable"), || async move {
            match self.wd.find(By::XPath(xpath)).await {
                Ok(e) => e.click().await.is_ok(),
                Err(_) => false,
            }
        })
        .await;
    }

    /// Opens the first bill of the bills list (its row's button).
    pub async fn open_first_bill(&self) {
        self.wd
            .find(By::Css("#bills-table .row-link"))
            .await
            .expect("a bill row")
            .click()
            .await
            .expect("click");
    }

    /// On the Bills screen: searches for one statement and opens its bill.
    pub async fn open_bill_by_statement(&self, statement: &str) {
        self.fill("search", statement).await;
        self.until("the bill alone in the list", || async {
            self.wd
                .find_all(By::Css("#bills-table .row-link"))
                .await
                .is_ok_and(|rows| rows.len() == 1)
        })
        .await;
        self.open_first_bill().await;
    }

    /// Ticks the checkbox `#id`, waiting for it to appear (a list may paint after its heading).
    pub async fn check(&self, id: &str) {
        let mut last = String::new();
        let start = Instant::now();
        while start.elapsed() < WAIT {
            match self.wd.find(By::Id(id)).await {
                Ok(b) => match b.click().await {
                    Ok(()) => return,
                    Err(e) => last = e.to_string(),
                },
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no checkbox #{id} to tick: {last}");
    }

    pub async fn select(&self, id: &str, value: &str) {
        let script = format!(
            "const s = document.getElementById('{id}'); s.value = '{value}'; s.dispatchEvent(new Event('change', {{bubbles: true}}));"
        );
        self.wd.execute(&script, vec![]).await.expect("select");
    }

    /// Clicks the button (or link-styled button) whose text is `text`.
    pub async fn click(&self, text: &str) {
        let xpath = format!("//button[normalize-space()={text:?}] | //a[normalize-space()={text:?}]");
        let mut last = String::new();
        let start = Instant::now();
        while start.elapsed() < WAIT {
            match self.wd.find(By::XPath(&xpath)).await {
                Ok(b) => match b.click().await {
                    Ok(()) => return,
                    Err(e) => last = e.to_string(),
                },
                Err(e) => last = e.to_string(),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("cannot click {text:?}: {last}");
    }

    /// Runs axe-core on the page as it is and fails on any WCAG 2.1 A or AA violation.
    pub async fn axe(&self, screen: &str) {
        let present = self
            .wd
            .execute("return typeof window.axe !== 'undefined';", vec![])
            .await
            .expect("script")
            .json()
            .as_bool()
            .unwrap_or(false);
        if !present {
            let source = std::fs::read_to_string(root().join("ui/node_modules/axe-core/axe.min.js"))
                .expect("axe-core (npm ci in ui/)");
            self.wd.execute(&source, vec![]).await.expect("inject axe-core");
        }
        let result = self
            .wd
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
                   .then(r => done(JSON.stringify(r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map(n => n.html).slice(0, 3) })))))
                   .catch(e => done(JSON.stringify([{ id: 'axe-error', help: String(e) }])));",
                vec![],
            )
            .await
            .expect("axe runs");
        let violations: Value = serde_json::from_str(result.json().as_str().unwrap_or("[]")).expect("axe json");
        assert!(
            violations.as_array().is_some_and(Vec::is_empty),
            "accessibility violations on {screen}: {violations:#}"
        );
    }

    /// Whether the page scrolls sideways, and any element that clips its text (overflow hidden or
    /// clip with more content than room), as a description for the assertion message.
    pub async fn layout_problems(&self) -> Vec<String> {
        let found = self
            .wd
            .execute(
                "const doc = document.documentElement;
                 const problems = [];
                 if (doc.scrollWidth > doc.clientWidth + 1) {
                   // Name the outermost elements that reach past the window's right edge.
                   const wide = [...document.querySelectorAll('body *')].filter((el) => el.getBoundingClientRect().right > doc.clientWidth + 1
                     && !(el.parentElement && el.parentElement.getBoundingClientRect().right > doc.clientWidth + 1));
                   problems.push(`the page scrolls sideways: ${doc.scrollWidth} > ${doc.clientWidth}; too wide: ${wide.slice(0, 5).map((el) => el.outerHTML.slice(0, 100)).join(' | ')}`);
                 }
                 for (const el of document.querySelectorAll('body *')) {
                   if (el.closest('.visually-hidden') || el.getClientRects().length === 0) continue;
                   const cs = getComputedStyle(el);
                   const clips = (v) => v === 'hidden' || v === 'clip';
                   if ((clips(cs.overflowX) && el.scrollWidth > el.clientWidth + 1) || (clips(cs.overflowY) && el.scrollHeight > el.clientHeight + 1))
                     problems.push(`clipped: ${el.outerHTML.slice(0, 120)}`);
                 }
                 return problems;",
                vec![],
            )
            .await
            .expect("layout script");
        serde_json::from_value(found.json().clone()).unwrap_or_default()
    }

    /// A PNG of the window. WebKitGTK takes it after the page's next presentation update, and a
    /// page painted without compositing (the app on Linux) has none while it is at rest: the
    /// request then never answers. So while the screenshot is taken, a one-pixel mark in the
    /// window's top-left corner changes between 1% and 2% opacity every 50 ms; it is removed
    /// after.
    pub async fn screenshot(&self, path: &Path) {
        self.wd
            .execute(
                "const mark = document.createElement('div');
                 mark.id = 'carebill-screenshot-mark';
                 mark.setAttribute('aria-hidden', 'true');
                 mark.style.cssText = 'position:fixed;left:0;top:0;width:1px;height:1px;pointer-events:none;z-index:2147483647;background:rgba(0,0,0,0.01)';
                 document.body.append(mark);
                 let odd = false;
                 mark.dataset.timer = String(setInterval(() => {
                   odd = !odd;
                   mark.style.background = odd ? 'rgba(0,0,0,0.02)' : 'rgba(0,0,0,0.01)';
                 }, 50));",
                vec![],
            )
            .await
            .expect("screenshot mark");
        let png = self.wd.screenshot_as_png().await.expect("screenshot");
        self.wd
            .execute(
                "const mark = document.getElementById('carebill-screenshot-mark');
                 if (mark) { clearInterval(Number(mark.dataset.timer)); mark.remove(); }",
                vec![],
            )
            .await
            .expect("screenshot mark");
        std::fs::write(path, png).expect("write screenshot");
    }
}

pub const KIOSK_PASSCODE: &str = "front-desk-42";
pub const KIOSK_CLINIC: &str = "Northside Clinic";

/// Writes a kiosk's system config (the demo kiosk credential, a 40 s idle time-out) in `home`,
/// and sets its admin passcode with `carebill kiosk set-passcode`. Debug builds of the app accept
/// the path in `CAREBILL_SYSTEM_CONFIG`.
pub fn kiosk_config(home: &AppHome) -> PathBuf {
    use std::io::Write;
    let path = home.dir.path().join("system").join("config.toml");
    std::fs::create_dir_all(path.parent().expect("dir")).expect("config dir");
    std::fs::write(
        &path,
        format!(
            "kiosk = true\ndevice_credential = \"{}\"\nidle_timeout_secs = 40\n\
             clinic_name = \"{KIOSK_CLINIC}\"\nsupport_text = \"Questions? Ask at the front desk.\"\n\
             support_text_es = \"¿Preguntas? Pregunte en la recepción.\"\n",
            carebill_server::seed::DEMO_KIOSK_CREDENTIAL
        ),
    )
    .expect("config");
    let mut cli = Command::new(app_binary())
        .args(["kiosk", "set-passcode"])
        .env("CAREBILL_SYSTEM_CONFIG", &path)
        .stdin(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("carebill kiosk set-passcode");
    cli.stdin
        .take()
        .expect("stdin")
        .write_all(format!("{KIOSK_PASSCODE}\n{KIOSK_PASSCODE}\n").as_bytes())
        .expect("passcode");
    let out = cli.wait_with_output().expect("set-passcode ends");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        std::fs::read_to_string(&path)
            .expect("config")
            .contains("admin_passcode_hash = \"$argon2id$")
    );
    path
}

/// The value at percentile `p` (0–100) of sorted samples (nearest rank).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * (sorted.len() as f64 - 1.0)).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

/// "1234.56" -> 123456.
pub fn cents(amount: &str) -> i64 {
    let (whole, frac) = amount.split_once('.').unwrap_or((amount, "0"));
    let sign = if whole.starts_with('-') { -1 } else { 1 };
    let whole: i64 = whole.trim_start_matches('-').parse().expect("money");
    let frac: i64 = format!("{frac:0<2}")[..2].parse().expect("money");
    sign * (whole * 100 + frac)
}

/// 123456 -> "$1,234.56", as the app shows money.
pub fn usd(cents: i64) -> String {
    let whole = (cents / 100).to_string();
    let mut grouped = String::new();
    for (i, ch) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    format!("${grouped}.{:02}", cents % 100)
}
