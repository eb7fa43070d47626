//! A run's `index.html` in a real browser: Debian's Chromium driven by
//! chromedriver over WebDriver's HTTP JSON protocol. Every image loads from
//! `file://`, every plot is on the page, and the sample viewer steps through
//! generations.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::chain::{TINY, short_chain};
use crate::util::{TempDir, have};

/// Where Debian installs the browser and its driver.
const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// The key under which WebDriver returns an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long to wait for the driver to start and for an image to load.
const PATIENCE: Duration = Duration::from_secs(30);

/// A headless Chromium session; the session is closed and chromedriver
/// killed on drop.
struct Browser {
    driver: Child,
    agent: ureq::Agent,
    session: String,
    base: String,
}

impl Browser {
    /// Starts chromedriver on a free port and opens a session whose profile
    /// lives in `profile`.
    fn start(profile: &Path) -> Browser {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(120)))
            .build();
        let mut browser = Browser {
            driver,
            agent: ureq::Agent::new_with_config(config),
            session: String::new(),
            base: format!("http://127.0.0.1:{port}"),
        };
        browser.wait_until_ready();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ]
        .map(String::from)
        .into_iter()
        .chain([format!("--user-data-dir={}", profile.display())])
        .collect::<Vec<_>>();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        }}});
        let created = browser.command("POST", "/session", Some(capabilities));
        browser.session = created["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session id in {created}"))
            .to_string();
        browser
    }

    fn wait_until_ready(&mut self) {
        let start = Instant::now();
        loop {
            let ready = self
                .agent
                .get(format!("{}/status", self.base))
                .call()
                .ok()
                .and_then(|mut r| r.body_mut().read_to_string().ok())
                .and_then(|body| serde_json::from_str::<Value>(&body).ok())
                .is_some_and(|v| v["value"]["ready"] == true);
            if ready {
                return;
            }
            if let Ok(Some(status)) = self.driver.try_wait() {
                panic!("chromedriver exited early: {status}");
            }
            assert!(start.elapsed() < PATIENCE, "chromedriver did not get ready");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Sends a WebDriver command to `path` of the driver and returns the
    /// reply's `value`, failing on a WebDriver error.
    fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let response = match (method, body) {
            ("POST", body) => self
                .agent
                .post(&url)
                .header("Content-Type", "application/json")
                .send(body.unwrap_or_else(|| json!({})).to_string()),
            ("DELETE", _) => self.agent.delete(&url).call(),
            _ => self.agent.get(&url).call(),
        };
        let text = response
            .and_then(|mut r| r.body_mut().read_to_string())
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let reply: Value =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: {e}: {text}"));
        let value = reply["value"].clone();
        assert!(
            value.get("error").is_none(),
            "{method} {path} failed: {value}"
        );
        value
    }

    fn session_path(&self, rest: &str) -> String {
        format!("/session/{}{rest}", self.session)
    }

    fn open(&self, file: &Path) {
        let url = format!("file://{}", file.display());
        self.command(
            "POST",
            &self.session_path("/url"),
            Some(json!({"url": url})),
        );
    }

    /// Runs `script` (a function body) in the page and returns what it returns.
    fn script(&self, script: &str) -> Value {
        let body = json!({"script": script, "args": []});
        self.command("POST", &self.session_path("/execute/sync"), Some(body))
    }

    /// Clicks the element matching the CSS `selector`.
    fn click(&self, selector: &str) {
        let found = self.command(
            "POST",
            &self.session_path("/element"),
            Some(json!({"using": "css selector", "value": selector})),
        );
        let id = found[ELEMENT].as_str().expect("element reference");
        self.command(
            "POST",
            &self.session_path(&format!("/element/{id}/click")),
            None,
        );
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let url = format!("{}/session/{}", self.base, self.session);
            let _ = self.agent.delete(&url).call();
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// The viewer's label, its image's `src` attribute and whether that image
/// has loaded, once it has or after [`PATIENCE`].
fn viewer(browser: &Browser) -> (String, String, bool) {
    let start = Instant::now();
    loop {
        let state = browser.script(
            "const img = document.getElementById('gen-image');
             return [document.getElementById('gen-label').textContent,
                     img.getAttribute('src'), img.complete && img.naturalWidth > 0];",
        );
        let loaded = state[2] == true;
        if loaded || start.elapsed() > PATIENCE {
            let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
            return (text(&state[0]), text(&state[1]), loaded);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn plot_files(run: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(run.join("plots"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    files.sort();
    files
}

#[test]
#[ignore = "long: starts Chromium"]
fn run_page_loads_every_image_and_steps_through_generations() {
    let present = [CHROMIUM, CHROMEDRIVER]
        .iter()
        .all(|p| Path::new(p).is_file());
    if !have(
        "Chromium and chromedriver",
        present,
        "Debian's chromium chromium-driver",
    ) {
        return;
    }
    let tmp = TempDir::new("browser");
    let run = short_chain(&tmp, &TINY).canonicalize().unwrap();
    let browser = Browser::start(&tmp.join("chromium-profile"));
    browser.open(&run.join("index.html"));

    let broken = browser.script(
        "return Array.from(document.images)
             .filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.src);",
    );
    assert_eq!(broken, json!([]), "images that did not load");
    let srcs =
        browser.script("return Array.from(document.images).map(i => i.getAttribute('src'));");
    let srcs: Vec<&str> = srcs
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let plots = plot_files(&run);
    assert!(plots.len() >= 5, "{plots:?}");
    for plot in &plots {
        let src = format!("plots/{}", plot.file_name().unwrap().to_str().unwrap());
        assert!(
            srcs.contains(&src.as_str()),
            "no image of {src} in {srcs:?}"
        );
    }
    for g in ["gen-000/samples.png", "gen-001/samples.png"] {
        assert!(srcs.contains(&g), "no thumbnail {g} in {srcs:?}");
    }

    assert_eq!(
        viewer(&browser),
        ("generation 0".into(), "gen-000/samples.png".into(), true)
    );
    browser.click("#gen-next");
    assert_eq!(
        viewer(&browser),
        ("generation 1".into(), "gen-001/samples.png".into(), true)
    );
    browser.click("#gen-prev");
    assert_eq!(viewer(&browser).0, "generation 0");
    browser.script(
        "const s = document.getElementById('gen-slider');
         s.value = 1; s.dispatchEvent(new Event('input'));",
    );
    assert_eq!(
        viewer(&browser),
        ("generation 1".into(), "gen-001/samples.png".into(), true)
    );
}
