//! [`Browser`]: a headless Chromium on a [`TestApp`]'s web app, driven the way a person uses
//! it (labels, button texts, roles), with waits that poll until the page is ready.
//!
//! Every helper panics with what it looked for, the route and the screen's text when the page
//! does not get there within [`TIMEOUT`], so a test reads as the journey it checks.

use std::cell::Cell;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use fantoccini::elements::{Element, ElementRef};
use fantoccini::{Client, ClientBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

use super::driver::{self, Driver};
use crate::helpers::TestApp;

/// A window size (CSS pixels of the page's viewport).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    /// For messages: "phone", "desktop".
    pub name: &'static str,
    pub width: u32,
    pub height: u32,
}

/// A phone held upright (iPhone 14/15 class).
pub const PHONE: Size = Size { name: "phone", width: 390, height: 844 };
/// A laptop.
pub const DESKTOP: Size = Size { name: "desktop", width: 1280, height: 900 };

/// How long a helper waits for the page before failing the test. Generous: a loaded CI
/// machine can take seconds to start Chromium; a passing wait returns as soon as it can.
pub const TIMEOUT: Duration = Duration::from_secs(20);
/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(50);

/// Chromium's switches: headless, and nothing that reaches the network or the machine's
/// state on its own (updates, sync, QUIC probes, first-run pages).
const CHROMIUM_ARGS: &[&str] = &[
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
    "--lang=en-US",
];

/// The key WebDriver marks an element reference with (W3C WebDriver, "web element identifier").
const ELEMENT_KEY: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Finds visible elements the way assistive technology names them; see [`Target`].
const LOCATE_JS: &str = include_str!("locate.js");

/// Who signs in on the sign-in form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// "a business owner" (portal login).
    Owner,
    /// "DeskRinger staff" (admin login).
    Staff,
}

/// What to find on the page.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// A form control whose label (`<label for>`, a wrapping label, `aria-label` or
    /// `aria-labelledby`) is exactly this text.
    Label(&'a str),
    /// An element of an ARIA role (explicit, or implied by its tag: `button`, `link`,
    /// `heading`, `textbox`, `checkbox`, `radio`, `combobox`, `table`, `row`, `cell`,
    /// `columnheader`, `list`, `listitem`, `navigation`, `main`, `form`, `dialog`, `status`,
    /// `alert`, `region`, `img`), with this accessible name when one is given.
    Role(&'a str, Option<&'a str>),
    /// A CSS selector, for what has no better handle.
    Css(&'a str),
}

impl std::fmt::Display for Target<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Label(label) => write!(f, "a control labelled {label:?}"),
            Target::Role(role, Some(name)) => write!(f, "a {role} named {name:?}"),
            Target::Role(role, None) => write!(f, "a {role}"),
            Target::Css(selector) => write!(f, "an element matching {selector:?}"),
        }
    }
}

impl Target<'_> {
    fn to_json(self) -> Value {
        match self {
            Target::Label(label) => json!({"kind": "label", "key": label}),
            Target::Role(role, name) => json!({"kind": "role", "key": role, "name": name}),
            Target::Css(selector) => json!({"kind": "css", "key": selector}),
        }
    }
}

/// A Chromium session on one test's app. Close it with [`Browser::close`], which also fails
/// the test on JavaScript errors and CSP violations; dropped without that (a failing test)
/// it still ends its browser.
pub struct Browser {
    client: Client,
    /// Where the app is served.
    address: SocketAddr,
    /// `http://127.0.0.1:port` of the app.
    base: String,
    size: Cell<Size>,
    driver: &'static Driver,
    session: String,
    profile: PathBuf,
    closed: bool,
}

static NEXT_PROFILE: AtomicU64 = AtomicU64::new(0);

impl Browser {
    /// Serves `app` on a local port and opens a fresh browser (its own profile: no stored
    /// session, nothing cached) at `size`. `None` when browser tests are skipped here (see
    /// [`driver::driver`]); a test then simply returns:
    /// `let Some(browser) = Browser::open(&app, PHONE).await else { return };`
    pub async fn open(app: &TestApp, size: Size) -> Option<Browser> {
        // Before serving: a skipped test should not start a server.
        driver::driver()?;
        let address = app.serve().await;
        Browser::open_at(address, size).await
    }

    /// A fresh browser on an app already served at `address` (a second person on the same
    /// app: `Browser::open_at(browser.address(), DESKTOP)`); `None` when skipped, as `open`.
    pub async fn open_at(address: SocketAddr, size: Size) -> Option<Browser> {
        let driver = driver::driver()?;
        let profile = std::env::temp_dir().join(format!(
            "deskringer-chromium-{}-{}",
            std::process::id(),
            NEXT_PROFILE.fetch_add(1, Ordering::Relaxed)
        ));
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|arg| arg.to_string()).collect();
        args.push(format!("--window-size={},{}", size.width, size.height));
        args.push(format!("--user-data-dir={}", profile.display()));
        let Value::Object(capabilities) = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": driver.chromium, "args": args},
            // Console messages, for `console_errors` (JavaScript errors, CSP violations).
            "goog:loggingPrefs": {"browser": "ALL"},
        }) else {
            unreachable!("an object literal")
        };
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://{}", driver.address))
            .await
            .unwrap_or_else(|e| panic!("chromedriver could not start Chromium ({}): {e}", driver.chromium.display()));
        let session = client.session_id().await.ok().flatten().expect("a WebDriver session has an id");
        let browser = Browser {
            client,
            address,
            base: format!("http://{address}"),
            size: Cell::new(size),
            driver,
            session,
            profile,
            closed: false,
        };
        browser.resize(size).await;
        Some(browser)
    }

    /// The underlying WebDriver client, for what these helpers do not cover.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The app's origin, `http://127.0.0.1:port`.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Where the app is served (for [`Browser::open_at`]).
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// The current window size.
    pub fn size(&self) -> Size {
        self.size.get()
    }

    // --- Navigation --------------------------------------------------------------------

    /// Opens the app at a hash route: `go("calls/12")`, `go("#/staff/numbers")`.
    pub async fn go(&self, route: &str) {
        let route = route.trim_start_matches('#').trim_start_matches('/');
        let url = format!("{}/app/#/{route}", self.base);
        self.client.goto(&url).await.unwrap_or_else(|e| panic!("cannot open {url}: {e}"));
    }

    /// Reloads the page (the session in local storage stays).
    pub async fn reload(&self) {
        self.client.refresh().await.unwrap_or_else(|e| panic!("cannot reload: {e}"));
    }

    /// The current hash route without `#/`: `"home"`, `"calls/12?status=all"`.
    pub async fn route(&self) -> String {
        let hash = self.js("return location.hash", vec![]).await;
        hash.as_str().unwrap_or_default().trim_start_matches('#').trim_start_matches('/').to_owned()
    }

    /// Waits until the hash route is `route` (`"home"`, `"#/staff/dashboard"`).
    pub async fn wait_for_route(&self, route: &str) {
        let wanted = route.trim_start_matches('#').trim_start_matches('/');
        self.eventually(
            || format!("the route #/{wanted}"),
            || async { Ok((self.route().await == wanted).then_some(())) },
        )
        .await
    }

    /// Resizes the window so the page's viewport is `size`.
    pub async fn resize(&self, size: Size) {
        self.set_viewport(size.width, size.height).await;
        self.size.set(size);
    }

    /// Sets the window so the viewport (`innerWidth` x `innerHeight`) is `width` x `height`.
    async fn set_viewport(&self, width: u32, height: u32) {
        let mut window = (width, height);
        for _ in 0..3 {
            self.client.set_window_size(window.0, window.1).await.unwrap_or_else(|e| panic!("cannot resize: {e}"));
            let inner = self.js("return [innerWidth, innerHeight]", vec![]).await;
            let inner = (inner[0].as_u64().unwrap_or(0) as u32, inner[1].as_u64().unwrap_or(0) as u32);
            if inner == (width, height) {
                return;
            }
            // A window with a frame is bigger than its viewport: add the difference.
            window = (window.0 + width.saturating_sub(inner.0), window.1 + height.saturating_sub(inner.1));
        }
        panic!("cannot give the page a {width}x{height} viewport");
    }

    // --- Signing in ---------------------------------------------------------------------

    /// Fills the real sign-in form (`#/signin`) and submits it, without waiting for the result.
    pub async fn sign_in(&self, who: Who, email: &str, password: &str) {
        self.go("signin").await;
        self.choose(match who {
            Who::Owner => "a business owner",
            Who::Staff => "DeskRinger staff",
        })
        .await;
        self.fill("Email", email).await;
        self.fill("Password", password).await;
        self.click_button("Sign in").await;
    }

    /// Signs in as a business owner and waits for the home screen.
    pub async fn sign_in_as_owner(&self, email: &str, password: &str) {
        self.sign_in(Who::Owner, email, password).await;
        self.wait_for_route("home").await;
    }

    /// Signs in as DeskRinger staff and waits for the staff dashboard.
    pub async fn sign_in_as_staff(&self, email: &str, password: &str) {
        self.sign_in(Who::Staff, email, password).await;
        self.wait_for_route("staff/dashboard").await;
    }

    // --- Finding --------------------------------------------------------------------------

    /// The first visible element `target` names, waiting for it to appear.
    pub async fn find(&self, target: Target<'_>) -> Element {
        self.eventually(|| target.to_string(), || self.locate(target, false)).await
    }

    /// Every visible element `target` names now (no waiting; may be empty).
    pub async fn find_all(&self, target: Target<'_>) -> Vec<Element> {
        let found = self.js(LOCATE_JS, vec![target.to_json(), json!({"all": true})]).await;
        found.as_array().map(|all| all.iter().filter_map(|value| self.element(value)).collect()).unwrap_or_default()
    }

    /// Whether `target` names a visible element now (no waiting).
    pub async fn is_present(&self, target: Target<'_>) -> bool {
        !self.find_all(target).await.is_empty()
    }

    /// The form control labelled `label`.
    pub async fn field(&self, label: &str) -> Element {
        self.find(Target::Label(label)).await
    }

    /// The button named `text`.
    pub async fn button(&self, text: &str) -> Element {
        self.find(Target::Role("button", Some(text))).await
    }

    /// An element of `role`, named `name` when given.
    pub async fn role(&self, role: &str, name: Option<&str>) -> Element {
        self.find(Target::Role(role, name)).await
    }

    /// One attempt at finding `target` (an enabled one when `enabled`).
    async fn locate(&self, target: Target<'_>, enabled: bool) -> Result<Option<Element>, String> {
        let found = self
            .client
            .execute(LOCATE_JS, vec![target.to_json(), json!({"all": false, "enabled": enabled})])
            .await
            .map_err(|e| e.to_string())?;
        Ok(self.element(&found))
    }

    fn element(&self, value: &Value) -> Option<Element> {
        let id = value.get(ELEMENT_KEY)?.as_str()?;
        Some(Element::from_element_id(self.client.clone(), ElementRef::from(id.to_owned())))
    }

    // --- Acting ---------------------------------------------------------------------------

    /// Clicks the button named `text` once it is there and enabled.
    pub async fn click_button(&self, text: &str) {
        self.click(Target::Role("button", Some(text))).await
    }

    /// Clicks the link named `text`.
    pub async fn click_link(&self, text: &str) {
        self.click(Target::Role("link", Some(text))).await
    }

    /// Clicks `target` once it is there and enabled (retrying while something covers it or
    /// the screen re-renders under it).
    pub async fn click(&self, target: Target<'_>) {
        self.eventually(
            || format!("{target} to click"),
            || async {
                let Some(element) = self.locate(target, true).await? else { return Ok(None) };
                element.click().await.map(Some).map_err(|e| e.to_string())
            },
        )
        .await
    }

    /// Types `value` into the control labelled `label`, replacing what was there. Date and
    /// time inputs are set directly (typing into them depends on the locale).
    pub async fn fill(&self, label: &str, value: &str) {
        let target = Target::Label(label);
        self.eventually(
            || format!("{target} to fill with {value:?}"),
            || async {
                let Some(element) = self.locate(target, true).await? else { return Ok(None) };
                let kind = element.attr("type").await.map_err(|e| e.to_string())?.unwrap_or_default();
                if ["date", "time", "datetime-local", "month", "week", "color", "range"].contains(&kind.as_str()) {
                    self.set_value(&element, value).await?;
                } else {
                    element.clear().await.map_err(|e| e.to_string())?;
                    element.send_keys(value).await.map_err(|e| e.to_string())?;
                }
                // Done only when the value is there (a re-render may have replaced the control).
                let now = element.prop("value").await.map_err(|e| e.to_string())?;
                Ok((now.as_deref() == Some(value)).then_some(()))
            },
        )
        .await
    }

    async fn set_value(&self, element: &Element, value: &str) -> Result<(), String> {
        let script = "const [el, value] = arguments; el.value = value; \
                      el.dispatchEvent(new Event('input', {bubbles: true})); \
                      el.dispatchEvent(new Event('change', {bubbles: true}));";
        let element = serde_json::to_value(element).map_err(|e| e.to_string())?;
        self.client.execute(script, vec![element, json!(value)]).await.map(drop).map_err(|e| e.to_string())
    }

    /// Chooses the option whose text is `option` in the select labelled `label`.
    pub async fn select(&self, label: &str, option: &str) {
        let target = Target::Label(label);
        self.eventually(
            || format!("{target} to choose {option:?}"),
            || async {
                let Some(element) = self.locate(target, true).await? else { return Ok(None) };
                element.select_by_label(option).await.map(Some).map_err(|e| e.to_string())
            },
        )
        .await
    }

    /// Checks the radio button or checkbox labelled `label`.
    pub async fn choose(&self, label: &str) {
        self.set_checked(label, true).await
    }

    /// Checks or unchecks the checkbox labelled `label`.
    pub async fn set_checked(&self, label: &str, checked: bool) {
        let target = Target::Label(label);
        self.eventually(
            || format!("{target} to be {}", if checked { "checked" } else { "unchecked" }),
            || async {
                let Some(element) = self.locate(target, true).await? else { return Ok(None) };
                if element.is_selected().await.map_err(|e| e.to_string())? == checked {
                    return Ok(Some(()));
                }
                element.click().await.map_err(|e| e.to_string())?;
                Ok(None)
            },
        )
        .await
    }

    // --- Reading and waiting --------------------------------------------------------------

    /// The screen's text (`<main>`), whitespace collapsed.
    pub async fn text(&self) -> String {
        self.text_of_css("#view").await
    }

    /// The whole page's visible text, whitespace collapsed.
    pub async fn page_text(&self) -> String {
        self.text_of_css("body").await
    }

    /// The visible text of the first element matching `selector` ("" when there is none).
    pub async fn text_of_css(&self, selector: &str) -> String {
        let text = self
            .js("const el = document.querySelector(arguments[0]); return el ? el.innerText : ''", vec![json!(selector)])
            .await;
        collapse(text.as_str().unwrap_or_default())
    }

    /// The visible text of `target` (waiting for it).
    pub async fn text_of(&self, target: Target<'_>) -> String {
        let element = self.find(target).await;
        collapse(&element.text().await.unwrap_or_default())
    }

    /// Waits until the page shows `text` (anywhere, whitespace collapsed).
    pub async fn wait_for_text(&self, text: &str) {
        let wanted = collapse(text);
        self.eventually(
            || format!("the text {wanted:?}"),
            || async { Ok(self.page_text().await.contains(&wanted).then_some(())) },
        )
        .await
    }

    /// Waits until the page no longer shows `text`.
    pub async fn wait_for_text_gone(&self, text: &str) {
        let unwanted = collapse(text);
        self.eventually(
            || format!("the text {unwanted:?} to go"),
            || async { Ok((!self.page_text().await.contains(&unwanted)).then_some(())) },
        )
        .await
    }

    /// Waits for the screen's heading (`h1`) to be `text`.
    pub async fn wait_for_heading(&self, text: &str) {
        self.eventually(
            || format!("the heading {text:?}"),
            || async { Ok((self.text_of_css("#view h1").await == text).then_some(())) },
        )
        .await
    }

    /// Waits for an alert (`role="alert"`: a form's error summary, a failed load) with text,
    /// and returns that text.
    pub async fn alert_text(&self) -> String {
        self.eventually(
            || "an alert with text".to_owned(),
            || async {
                let Some(alert) = self.locate(Target::Role("alert", None), false).await? else { return Ok(None) };
                let text = collapse(&alert.text().await.map_err(|e| e.to_string())?);
                Ok((!text.is_empty()).then_some(text))
            },
        )
        .await
    }

    /// Waits for a message in the page's live region (`notify()`: "Saved." and the like).
    pub async fn notice_text(&self) -> String {
        self.eventually(
            || "a notice in the live region".to_owned(),
            || async {
                let text = self.text_of_css("#notice").await;
                Ok((!text.is_empty()).then_some(text))
            },
        )
        .await
    }

    /// Runs `script` in the page (a function body: `return` a value; `arguments` holds
    /// `args`). WebDriver runs it whatever the page's CSP says.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.client.execute(script, args).await.unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Runs `script` and waits for it to call its callback, the last of `arguments`.
    pub async fn js_async(&self, script: &str, args: Vec<Value>) -> Value {
        self.client.execute_async(script, args).await.unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// Retries `attempt` (an error counts as "not yet": the page may be between screens)
    /// until it gives a value, or fails the test after [`TIMEOUT`] saying what it waited for.
    pub async fn eventually<T, F, Fut>(&self, what: impl Fn() -> String, mut attempt: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<Option<T>, String>>,
    {
        let deadline = Instant::now() + TIMEOUT;
        let mut last_error = None;
        loop {
            match attempt().await {
                Ok(Some(value)) => return value,
                Ok(None) => {}
                Err(error) => last_error = Some(error),
            }
            if Instant::now() >= deadline {
                let error = last_error.map(|e| format!("\nlast error: {e}")).unwrap_or_default();
                panic!("waited {TIMEOUT:?} for {} in vain{error}\n{}", what(), self.describe().await);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Where the page is and what it says, for failure messages.
    async fn describe(&self) -> String {
        let state = self
            .client
            .execute("return [location.href, document.body ? document.body.innerText : '']", vec![])
            .await
            .unwrap_or_default();
        format!(
            "at {} ({} {}px), the page reads:\n{}",
            state[0].as_str().unwrap_or("?"),
            self.size.get().name,
            self.size.get().width,
            state[1].as_str().unwrap_or("?")
        )
    }

    // --- Evidence -------------------------------------------------------------------------

    /// Writes a full-page PNG of the current screen to `docs/screenshots/<name>.png` (shown
    /// in the README) when the file is missing or `UPDATE_SCREENSHOTS=1`; otherwise does
    /// nothing, so test runs do not rewrite committed images.
    pub async fn screenshot(&self, name: &str) {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/screenshots").join(format!("{name}.png"));
        if path.exists() && std::env::var("UPDATE_SCREENSHOTS").as_deref() != Ok("1") {
            return;
        }
        let size = self.size.get();
        // The whole page: make the viewport as tall as the content for the shot.
        let height = self.js("return Math.ceil(document.documentElement.scrollHeight)", vec![]).await;
        let height = (height.as_u64().unwrap_or(0) as u32).clamp(size.height, 10_000);
        self.set_viewport(size.width, height).await;
        let png = self.client.screenshot().await.unwrap_or_else(|e| panic!("cannot take a screenshot: {e}"));
        self.set_viewport(size.width, size.height).await;
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    }

    /// Messages the page logged as errors since the last call: uncaught exceptions, CSP
    /// violations, failed module loads. The browser's own notes on API answers of 4xx are left
    /// out: showing those is the app's job, and the tests check what it shows.
    pub async fn console_errors(&self) -> Vec<String> {
        let (address, path) = (self.driver.address, format!("/session/{}/se/log", self.session));
        let (status, body) =
            tokio::task::spawn_blocking(move || driver::request(address, "POST", &path, Some(r#"{"type":"browser"}"#)))
                .await
                .unwrap()
                .unwrap_or_else(|e| panic!("cannot read the browser's log: {e}"));
        assert_eq!(status, 200, "chromedriver's log answer: {body}");
        let log: Value = serde_json::from_str(&body).unwrap_or_default();
        log["value"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|entry| entry["level"] == "SEVERE")
            .filter_map(|entry| entry["message"].as_str())
            .filter(|message| !message.contains("the server responded with a status of 4"))
            .map(str::to_owned)
            .collect()
    }

    /// Ends the browser; fails the test if the page logged errors (see [`console_errors`]).
    ///
    /// [`console_errors`]: Browser::console_errors
    pub async fn close(mut self) {
        let errors = self.console_errors().await;
        self.closed = true;
        let _ = self.client.clone().close().await;
        assert!(errors.is_empty(), "the page logged errors:\n{}", errors.join("\n"));
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.closed {
            // A failed test: its runtime (and fantoccini's session task) is going away, so end
            // the session with a plain request, or the browser would live until the run ends.
            let path = format!("/session/{}", self.session);
            let _ = driver::request(self.driver.address, "DELETE", &path, None);
        }
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// `text` with runs of whitespace as one space, trimmed.
fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
