//! A real headless Chromium, driven over W3C WebDriver: Debian's `chromium`
//! and `chromium-driver`, installed by `scripts/setup.sh`. The protocol is
//! plain JSON over HTTP, so the client is a few requests, not a crate.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use alloy::transports::http::reqwest;
use serde_json::{Value, json};

use crate::agent::free_port;
use crate::group::ProcessGroup;

/// The browser binary chromedriver starts.
const CHROMIUM: &str = "/usr/bin/chromium";

/// A chromedriver with one headless Chromium session. Dropping it ends
/// both (they run in a process group of their own).
pub struct Browser {
    session: String,
    http: reqwest::Client,
    /// chromedriver and the Chromium it starts, ended when this drops.
    _driver: ProcessGroup,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a 1280×900 window.
    pub async fn start() -> Self {
        let port = free_port();
        let mut command = Command::new("chromedriver");
        command
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let driver = ProcessGroup::spawn(command)
            .expect("chromedriver (Debian's chromium-driver; run scripts/setup.sh)");
        let http = reqwest::Client::new();
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        loop {
            let ready = match http.get(format!("{base}/status")).send().await {
                Ok(response) => response
                    .text()
                    .await
                    .ok()
                    .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                    .is_some_and(|v| v["value"]["ready"] == true),
                Err(_) => false,
            };
            if ready {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut browser = Self {
            session: String::new(),
            http,
            _driver: driver,
        };
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,900", "--lang=en-US"]
            },
            "goog:loggingPrefs": {"browser": "ALL"}
        }}});
        let created = browser
            .call("POST", &format!("{base}/session"), Some(capabilities))
            .await;
        browser.session = format!(
            "{base}/session/{}",
            created["sessionId"].as_str().expect("a session id")
        );
        browser
    }

    async fn call(&self, method: &str, url: &str, body: Option<Value>) -> Value {
        let request = match method {
            "POST" => self
                .http
                .post(url)
                .header("content-type", "application/json")
                .body(body.unwrap_or_else(|| json!({})).to_string()),
            "DELETE" => self.http.delete(url),
            _ => self.http.get(url),
        };
        let response = request.send().await.expect("chromedriver answers");
        let text = response.text().await.expect("a body");
        let value: Value = serde_json::from_str(&text).expect("WebDriver JSON");
        let value = value.get("value").cloned().unwrap_or(Value::Null);
        assert!(
            value.get("error").is_none(),
            "WebDriver {method} {url}: {value}"
        );
        value
    }

    /// Loads `url` and waits for its `load` event.
    pub async fn open(&self, url: &str) {
        self.call(
            "POST",
            &format!("{}/url", self.session),
            Some(json!({"url": url})),
        )
        .await;
    }

    /// Runs `script` (a function body; `return` its result) in the page.
    pub async fn eval(&self, script: &str) -> Value {
        self.call(
            "POST",
            &format!("{}/execute/sync", self.session),
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    /// Evaluates `script` until it returns something truthy (not null,
    /// false, 0 or ""), within `limit`; returns that.
    pub async fn wait_for(&self, script: &str, limit: Duration) -> Value {
        let started = Instant::now();
        loop {
            let value = self.eval(script).await;
            let truthy = match &value {
                Value::Null => false,
                Value::Bool(b) => *b,
                Value::Number(n) => n.as_f64() != Some(0.0),
                Value::String(s) => !s.is_empty(),
                _ => true,
            };
            if truthy {
                return value;
            }
            assert!(
                started.elapsed() < limit,
                "the page never satisfied {script:?}; it shows:\n{}",
                self.eval("return document.body.innerText").await
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The page's text as a person reads it.
    pub async fn text(&self) -> String {
        self.eval("return document.body.innerText")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Saves a PNG of the window to `path` (its folder is created).
    pub async fn screenshot(&self, path: &Path) {
        use base64::Engine;
        let data = self
            .call("GET", &format!("{}/screenshot", self.session), None)
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(data.as_str().expect("base64"))
            .expect("a PNG");
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder).expect("the screenshot folder");
        }
        std::fs::write(path, png).expect("the screenshot");
    }

    /// The console's errors and the page's uncaught exceptions and failed
    /// loads since the last call (Chromium logs them as SEVERE).
    pub async fn console_errors(&self) -> Vec<String> {
        let entries = self
            .call(
                "POST",
                &format!("{}/se/log", self.session),
                Some(json!({"type": "browser"})),
            )
            .await;
        entries
            .as_array()
            .map(|entries| {
                entries
                    .iter()
                    .filter(|e| e["level"] == "SEVERE")
                    .map(|e| e["message"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Ends the session (Chromium exits) and chromedriver.
    pub async fn close(mut self) {
        let session = std::mem::take(&mut self.session);
        self.call("DELETE", &session, None).await;
    }
}
