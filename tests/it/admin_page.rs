//! The key page in a real headless Chromium, driven as a person would: by
//! labels, the keyboard and the text on buttons. Sign in with the admin key, generate
//! "billing", read the key shown once in bold, call a guarded route with it
//! (200), rotate it with an hour's grace (both keys 200, the old one's
//! answers with `Sunset`), revoke the new one on the page, and the route
//! answers it 401.
//!
//! Needs Debian's `chromium` and `chromium-driver`: the test looks for
//! `chromedriver` (or `APIKEY_TEST_CHROMEDRIVER`), prints a line and skips
//! without it, and fails when it is named but does not work.
#![cfg(feature = "admin")]

use crate::quickstart;

use crate::common;

use std::{net::SocketAddr, path::PathBuf, process::Stdio, time::Duration};

use api_key_auth::{
    admin::AdminApi, last_use::LastUseTracker, ApiKeyLayer, Authenticator, KeyManager, MemoryStore,
    NewKey,
};
use fantoccini::{wd::Capabilities, Client, ClientBuilder, Locator};

/// The chromedriver to use: `APIKEY_TEST_CHROMEDRIVER`, else one on the PATH.
fn chromedriver() -> Option<PathBuf> {
    if let Ok(path) = std::env::var("APIKEY_TEST_CHROMEDRIVER") {
        return Some(PathBuf::from(path));
    }
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("chromedriver"))
            .find(|path| path.is_file())
    });
    if found.is_none() {
        common::skip_line(
            "skipping admin_page: no chromedriver (apt-get install chromium chromium-driver, or set APIKEY_TEST_CHROMEDRIVER)",
        );
    }
    found
}

/// The quickstart's routes with the admin API at `/admin`, over a fresh store.
async fn serve() -> (SocketAddr, String) {
    let store = MemoryStore::new();
    let (_, admin) = store
        .create(NewKey::named("admin").scopes(["keys:admin"]))
        .await
        .unwrap()
        .reveal();
    // Uses are recorded, so the page has a last use to show.
    let tracker = LastUseTracker::builder(store.clone())
        .interval(Duration::from_millis(100))
        .spawn();
    let auth = Authenticator::builder(store.clone())
        .last_use(tracker)
        .build()
        .unwrap();
    let app = quickstart::app(ApiKeyLayer::from(auth))
        .nest("/admin", AdminApi::new(store).router().unwrap());
    // As the quickstart serves it: with each peer's address, which a key
    // used only from some networks is checked against.
    (
        common::serve_with_peers(app).await,
        admin.expose_secret().to_owned(),
    )
}

/// The input a `<label>` with this text names.
fn labelled(label: &str) -> String {
    format!("//input[@id=//label[normalize-space()='{label}']/@for]")
}

/// The button whose visible text starts with `text`.
fn button(text: &str) -> String {
    format!("//button[starts-with(normalize-space(), '{text}')]")
}

/// The element `xpath` finds, once it is on the page and shown.
async fn wait_for(browser: &Client, xpath: &str) -> fantoccini::elements::Element {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(element) = browser.find(Locator::XPath(xpath)).await {
            if element.is_displayed().await.unwrap_or(false) {
                return element;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{xpath} was not shown within 10 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A headless Chromium driven through `driver`, with scripts on or off;
/// the chromedriver process goes with it (see [`Browser::close`]).
struct Browser {
    client: Client,
    chromedriver: std::process::Child,
}

impl Browser {
    async fn start(driver: &std::path::Path, scripts: bool) -> Browser {
        let port = {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            probe.local_addr().unwrap().port()
        };
        let chromedriver = std::process::Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{} does not start: {e}", driver.display()));
        let webdriver = format!("http://127.0.0.1:{port}");
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "chromedriver did not listen within a minute"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut capabilities = Capabilities::new();
        let mut options = serde_json::json!({
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--disable-background-networking", "--disable-component-update",
                     "--no-first-run", "--window-size=1180,1360"]
        });
        if !scripts {
            options["prefs"] =
                serde_json::json!({"profile.managed_default_content_settings.javascript": 2});
        }
        if let Ok(binary) = std::env::var("APIKEY_TEST_CHROMIUM") {
            options["binary"] = serde_json::Value::from(binary);
        } else if std::path::Path::new("/usr/bin/chromium").exists() {
            options["binary"] = serde_json::Value::from("/usr/bin/chromium");
        }
        capabilities.insert("goog:chromeOptions".to_owned(), options);
        let client = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities)
            .connect(&webdriver)
            .await
            .unwrap_or_else(|e| panic!("chromedriver at {webdriver} gives no browser: {e}"));
        Browser {
            client,
            chromedriver,
        }
    }

    async fn close(mut self) {
        let _ = self.client.close().await;
        let _ = self.chromedriver.kill();
        let _ = self.chromedriver.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_administrator_generates_uses_and_revokes_a_key_in_a_browser() {
    let Some(driver) = chromedriver() else {
        return;
    };
    let _alone = common::exclusive().await;
    let browser = Browser::start(&driver, true).await;
    let (addr, admin_key) = serve().await;
    let result = drive(&browser.client, addr, &admin_key).await;
    browser.close().await;
    result.unwrap();
}

/// Before the page's script runs (or with scripts off), pressing Enter in
/// the sign-in form sends the admin key nowhere. A form with no method and
/// an input with a name would put the key into the URL as
/// `/?admin-key=…`, and so into access logs and history. The input has no
/// name, the form posts, and its button is disabled until the script is
/// there to enable it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_scripts_off_the_admin_key_never_reaches_a_url() {
    let Some(driver) = chromedriver() else {
        return;
    };
    let _alone = common::exclusive().await;
    let browser = Browser::start(&driver, false).await;
    let (addr, admin_key) = serve().await;
    let result = async {
        let client = &browser.client;
        let page = format!("http://{addr}/admin");
        client.goto(&page).await.map_err(|e| e.to_string())?;
        let input = wait_for(client, &labelled("Admin key")).await;
        if input
            .attr("name")
            .await
            .map_err(|e| e.to_string())?
            .is_some()
        {
            return Err("the admin key's input has a name, which a form would send".to_owned());
        }
        let form = client
            .find(Locator::Id("sign-in"))
            .await
            .map_err(|e| e.to_string())?;
        let method = form.attr("method").await.map_err(|e| e.to_string())?;
        if method.as_deref() != Some("post") {
            return Err(format!("the sign-in form's method is {method:?}, not post"));
        }
        let submit = wait_for(client, &button("Sign in")).await;
        if submit.is_enabled().await.map_err(|e| e.to_string())? {
            return Err("the sign-in button works without the page's script".to_owned());
        }
        input
            .send_keys(&format!("{admin_key}\u{E007}"))
            .await
            .map_err(|e| e.to_string())?;
        // Give a navigation, were there one, its time: then the page must
        // still be the page, its address holding no key.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let url = client.current_url().await.map_err(|e| e.to_string())?;
        if url.as_str() != page || url.as_str().contains(&admin_key[9..]) {
            return Err(format!("Enter led to {url}"));
        }
        Ok(())
    }
    .await;
    browser.close().await;
    result.unwrap();
}

/// The status `GET /whoami` answers with `key`.
async fn whoami(addr: SocketAddr, key: &str) -> u16 {
    whoami_answer(addr, key).await.status
}

async fn whoami_answer(addr: SocketAddr, key: &str) -> common::RawResponse {
    let header = format!("Api-Key {key}");
    common::http_get(addr, "/whoami", &[("Authorization", &header)]).await
}

/// The row of the key with `prefix`.
fn row_of(prefix: &str) -> String {
    format!("//tr[td[2][normalize-space()='{prefix}']]")
}

async fn drive(browser: &Client, addr: SocketAddr, admin_key: &str) -> Result<(), String> {
    browser
        .goto(&format!("http://{addr}/admin"))
        .await
        .map_err(|e| e.to_string())?;
    // By keyboard: type into the labelled field and press Enter.
    let enter = fantoccini::key::Key::Enter.to_string();
    let key_input = wait_for(browser, &labelled("Admin key")).await;
    key_input
        .send_keys(&format!("{admin_key}{enter}"))
        .await
        .unwrap();

    let name = wait_for(browser, &labelled("Name")).await;
    name.send_keys(&format!("billing{enter}")).await.unwrap();
    let shown = wait_for(
        browser,
        "//strong[@id='new-key-value' and string-length(normalize-space()) = 41]",
    )
    .await;
    let key = shown.text().await.unwrap();
    wait_for(browser, "//tr[td[1][normalize-space()='billing']]").await;

    let status = whoami(addr, &key).await;
    if status != 200 {
        return Err(format!("the key from the page got {status} from /whoami"));
    }

    // Dismissed, the key is gone from the page.
    wait_for(browser, &button("Dismiss"))
        .await
        .click()
        .await
        .unwrap();
    let source = browser.source().await.unwrap();
    if source.contains(&key) {
        return Err("the key is still on the page after Dismiss".to_owned());
    }

    // A key with a rate limit, by keyboard: 5 a minute, 2 at once. The
    // period is a labelled select: focus it from the field before, then
    // arrow down from "second" to "minute".
    let tab = fantoccini::key::Key::Tab.to_string();
    let down = fantoccini::key::Key::Down.to_string();
    let name = wait_for(browser, &labelled("Name")).await;
    name.send_keys("partner").await.unwrap();
    let rate = wait_for(browser, &labelled("Requests allowed (optional)")).await;
    rate.send_keys(&format!("5{tab}{down}")).await.unwrap();
    let per = wait_for(
        browser,
        "//select[@id=//label[normalize-space()='per']/@for]",
    )
    .await;
    if per.prop("value").await.unwrap().as_deref() != Some("60") {
        return Err("the period select did not take the keyboard".to_owned());
    }
    let burst = wait_for(browser, &labelled("At once, at most (optional)")).await;
    burst.send_keys(&format!("2{enter}")).await.unwrap();
    let shown = wait_for(
        browser,
        "//strong[@id='new-key-value' and string-length(normalize-space()) = 41]",
    )
    .await;
    let limited = shown.text().await.unwrap();
    wait_for(
        browser,
        "//tr[td[1][normalize-space()='partner']][td[normalize-space()='5 a minute, 2 at once']]",
    )
    .await;
    let statuses = [
        whoami(addr, &limited).await,
        whoami(addr, &limited).await,
        whoami(addr, &limited).await,
    ];
    if statuses != [200, 200, 429] {
        return Err(format!("the rate-limited key got {statuses:?}"));
    }
    wait_for(browser, &button("Dismiss"))
        .await
        .click()
        .await
        .unwrap();

    // A key used only from one network, by keyboard: a typo is refused
    // with the reason, the list shows the network, and from this test's
    // address (127.0.0.1) the key gets 403.
    let name = wait_for(browser, &labelled("Name")).await;
    name.send_keys("office").await.unwrap();
    let from = wait_for(browser, &labelled("Used only from (optional)")).await;
    from.send_keys(&format!("10.0.0.1/8{enter}")).await.unwrap();
    wait_for(
        browser,
        "//p[@id='generate-error' and contains(., 'write 10.0.0.0/8')]",
    )
    .await;
    from.clear().await.unwrap();
    from.send_keys(&format!("192.0.2.0/24{enter}"))
        .await
        .unwrap();
    let shown = wait_for(
        browser,
        "//strong[@id='new-key-value' and string-length(normalize-space()) = 41]",
    )
    .await;
    let confined = shown.text().await.unwrap();
    wait_for(
        browser,
        "//tr[td[1][normalize-space()='office']][td[9][normalize-space()='192.0.2.0/24']]",
    )
    .await;
    let status = whoami(addr, &confined).await;
    if status != 403 {
        return Err(format!("the confined key got {status} from 127.0.0.1"));
    }
    wait_for(browser, &button("Dismiss"))
        .await
        .click()
        .await
        .unwrap();

    // The tracker has written the use by the time the list is read again.
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Rotate it, by keyboard: Enter on the row's button, the grace chosen in
    // the labelled list, Enter on "Rotate key".
    let old_prefix = key[..8].to_owned();
    wait_for(
        browser,
        &format!("{}{}", row_of(&old_prefix), button("Rotate")),
    )
    .await
    .send_keys(&enter)
    .await
    .unwrap();
    let grace = wait_for(
        browser,
        "//select[@id=//label[normalize-space()='The old key keeps working for']/@for]",
    )
    .await;
    grace.select_by_label("1 hour").await.unwrap();
    wait_for(browser, &button("Rotate key"))
        .await
        .send_keys(&enter)
        .await
        .unwrap();
    let shown = wait_for(
        browser,
        &format!(
            "//strong[@id='new-key-value' and string-length(normalize-space()) = 41 \
             and not(starts-with(normalize-space(), '{old_prefix}'))]"
        ),
    )
    .await;
    let new_key = shown.text().await.unwrap();
    wait_for(
        browser,
        "//p[@id='new-key-note' and contains(., 'keeps working until')]",
    )
    .await;
    wait_for(
        browser,
        &format!(
            "{}[td[6][normalize-space()='active, replaced']]",
            row_of(&old_prefix)
        ),
    )
    .await;
    let old_answer = whoami_answer(addr, &key).await;
    if old_answer.status != 200 || old_answer.header("sunset").is_none() {
        return Err(format!("the old key during its grace got {old_answer:?}"));
    }
    let status = whoami(addr, &new_key).await;
    if status != 200 {
        return Err(format!("the rotated key got {status} from /whoami"));
    }

    // The page as the README shows it: a rotation's new key once, in bold,
    // and the list with expiry, last use and the replaced key.
    wait_for(
        browser,
        &format!("{}[td[5][normalize-space()!='never']]", row_of(&old_prefix)),
    )
    .await;
    let png = browser.screenshot().await.unwrap();
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("admin-page.png");
    std::fs::write(&out, png).unwrap();
    if std::env::var_os("APIKEY_UPDATE_SCREENSHOT").is_some() {
        std::fs::copy(&out, "docs/admin-page.png").unwrap();
    }

    // Suspend the new key, then resume it: refused, then working again.
    let new_prefix = new_key[..8].to_owned();
    for (act, status, answer) in [("Suspend", "suspended", 401), ("Resume", "active", 200)] {
        // By keyboard: Enter on the row's button, named by its key.
        wait_for(browser, &format!("{}{}", row_of(&new_prefix), button(act)))
            .await
            .send_keys(&enter)
            .await
            .unwrap();
        wait_for(
            browser,
            &format!(
                "{}[td[6][normalize-space()='{status}']]",
                row_of(&new_prefix)
            ),
        )
        .await;
        let got = whoami(addr, &new_key).await;
        if got != answer {
            return Err(format!("the {status} key got {got} from /whoami"));
        }
    }

    // Revoke the new key; the old one works on through its grace.
    wait_for(
        browser,
        &format!("{}{}", row_of(&new_prefix), button("Revoke")),
    )
    .await
    .click()
    .await
    .unwrap();
    browser.accept_alert().await.unwrap();
    wait_for(
        browser,
        &format!(
            "{}[td[6][normalize-space()='revoked']]",
            row_of(&new_prefix)
        ),
    )
    .await;
    let status = whoami(addr, &new_key).await;
    if status != 401 {
        return Err(format!("the revoked key got {status} from /whoami"));
    }
    let status = whoami(addr, &key).await;
    if status != 200 {
        return Err(format!("the old key, still in its grace, got {status}"));
    }

    // A key of two uses, made by keyboard: its row says so, it works
    // twice and is then refused (403: its uses never come back).
    wait_for(browser, &labelled("Name"))
        .await
        .send_keys("two-uses")
        .await
        .unwrap();
    wait_for(browser, &labelled("Uses allowed (optional)"))
        .await
        .send_keys(&format!("2{enter}"))
        .await
        .unwrap();
    let shown = wait_for(
        browser,
        "//strong[@id='new-key-value' and string-length(normalize-space()) = 41]",
    )
    .await;
    let metered = shown.text().await.unwrap();
    wait_for(
        browser,
        "//tr[td[1][normalize-space()='two-uses']][td[10][normalize-space()='2']]",
    )
    .await;
    let statuses = [
        whoami(addr, &metered).await,
        whoami(addr, &metered).await,
        whoami(addr, &metered).await,
    ];
    if statuses != [200, 200, 403] {
        return Err(format!("the key of two uses got {statuses:?}"));
    }
    wait_for(browser, &button("Dismiss"))
        .await
        .send_keys(&enter)
        .await
        .unwrap();

    // Two keys of one owner, made by keyboard, listed by owner, then
    // suspended, resumed and revoked together; another owner's key works on.
    let mut owned = Vec::new();
    for (name, owner) in [
        ("field-1", "acme"),
        ("field-2", "acme"),
        ("field-3", "Acme"),
    ] {
        wait_for(browser, &labelled("Name"))
            .await
            .send_keys(name)
            .await
            .unwrap();
        wait_for(browser, &labelled("Owner (optional)"))
            .await
            .send_keys(&format!("{owner}{enter}"))
            .await
            .unwrap();
        let shown = wait_for(
            browser,
            "//strong[@id='new-key-value' and string-length(normalize-space()) = 41]",
        )
        .await;
        owned.push(shown.text().await.unwrap());
        wait_for(browser, &button("Dismiss"))
            .await
            .send_keys(&enter)
            .await
            .unwrap();
    }
    let filter = wait_for(
        browser,
        "//input[@id=//label[normalize-space()='Owner (optional)' and ancestor::form[@id='filter']]/@for]",
    )
    .await;
    filter.send_keys(&format!("acme{enter}")).await.unwrap();
    wait_for(
        browser,
        "//p[@id='owner-actions-label' and contains(., 'acme')]",
    )
    .await;
    let rows = browser
        .find_all(fantoccini::Locator::XPath("//tbody[@id='keys']/tr"))
        .await
        .unwrap();
    if rows.len() != 2 {
        return Err(format!(
            "the listing by owner shows {} rows, not 2",
            rows.len()
        ));
    }
    for (act, answer) in [("Suspend all", 401), ("Resume all", 200)] {
        wait_for(browser, &button(act))
            .await
            .send_keys(&enter)
            .await
            .unwrap();
        wait_for(
            browser,
            "//p[@id='owner-done' and contains(., '2 key(s) of acme')]",
        )
        .await;
        for key in &owned[..2] {
            let got = whoami(addr, key).await;
            if got != answer {
                return Err(format!("after {act} an acme key got {got}"));
            }
        }
    }
    wait_for(browser, &button("Revoke all"))
        .await
        .send_keys(&enter)
        .await
        .unwrap();
    browser.accept_alert().await.unwrap();
    wait_for(browser, "//p[@id='owner-done' and contains(., 'revoked')]").await;
    for key in &owned[..2] {
        let got = whoami(addr, key).await;
        if got != 401 {
            return Err(format!("a revoked acme key got {got}"));
        }
    }
    let got = whoami(addr, &owned[2]).await;
    if got != 200 {
        return Err(format!("Acme's key, another owner's, got {got}"));
    }
    Ok(())
}
