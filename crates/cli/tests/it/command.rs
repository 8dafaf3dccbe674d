//! The `api-key` command, run as a user runs it: the built binary, a store
//! URL, standard input and output. On SQLite always (this crate's table and
//! a djangorestframework-api-key one); on PostgreSQL, MySQL and Redis when
//! their variables are set.

use crate::common;

use std::{
    io::Write as _,
    path::Path,
    process::{Command, Output, Stdio},
};

use api_key_auth::{AuthFailure, Authenticator};
use http::{header::AUTHORIZATION, HeaderMap};

/// Copies the djangorestframework-api-key table the crate's tests share
/// (`tests/fixtures/drf/keys.sqlite3` at the workspace root) to `path`.
fn copy_drf_table(path: &Path) {
    let fixture =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/drf/keys.sqlite3");
    std::fs::copy(fixture, path).unwrap();
}

/// Runs `api-key` with `args` against `store`, feeding `stdin`.
fn api_key<A: AsRef<std::ffi::OsStr>>(store: &str, args: &[A], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_api-key"))
        .arg("--store")
        .arg(store)
        .args(args)
        .env_remove("APIKEY_STORE")
        .env_remove("APIKEY_STORE_SCHEMA")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the api-key binary runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The command succeeded; its standard output.
fn ok(output: Output) -> String {
    assert!(
        output.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        output.status.code(),
        text(&output.stdout),
        text(&output.stderr)
    );
    text(&output.stdout)
}

/// The command failed with one clear line on stderr and nothing that looks
/// like a panic; that line.
fn one_line_failure(output: Output) -> String {
    let stderr = text(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "stderr: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "one line, got: {stderr}");
    assert!(stderr.starts_with("api-key: "), "{stderr}");
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
    stderr
}

async fn authenticate(store: &str, drf: bool, key: &str) -> Result<(), AuthFailure> {
    let store = api_key_auth::store::open::open(store, drf)
        .await
        .unwrap()
        .into_manager();
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, format!("Api-Key {key}").parse().unwrap());
    Authenticator::new(store)
        .authenticate(&headers)
        .await
        .map(|_| ())
}

/// Create, check, list, show, revoke, check again; and the key passes the
/// layer's authenticator until it is revoked.
async fn lifecycle(store: &str, schema: &[&str]) {
    let drf = schema == ["--schema", "drf"];
    let with = |args: &[&str]| -> Vec<String> {
        schema.iter().chain(args).map(|a| a.to_string()).collect()
    };
    ok(api_key(store, &with(&["migrate"]), ""));
    ok(api_key(store, &with(&["migrate"]), ""));

    let created = ok(api_key(
        store,
        &with(&["create", "--name", "billing", "--json"]),
        "",
    ));
    let created: serde_json::Value = serde_json::from_str(&created).unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["status"], "active");
    assert_eq!(created["name"], "billing");

    let checked = ok(api_key(store, &with(&["check"]), &format!("{key}\n")));
    assert!(
        checked.starts_with("accepted: key \"billing\""),
        "{checked}"
    );
    authenticate(store, drf, &key).await.unwrap();

    let listed = ok(api_key(
        store,
        &with(&["list", "--status", "active", "--json"]),
        "",
    ));
    assert!(
        listed
            .lines()
            .any(|line| line.contains(&format!("\"id\":\"{id}\""))),
        "{listed}"
    );
    let shown = ok(api_key(store, &with(&["show", &id]), ""));
    assert!(shown.contains("status    active"), "{shown}");
    assert!(!shown.contains(&key[9..]), "show never prints the secret");

    // Suspended, refused and listed so, then resumed; a DRF table cannot.
    if drf {
        let refused = one_line_failure(api_key(store, &with(&["suspend", &id]), ""));
        assert!(refused.contains("no column to suspend"), "{refused}");
    } else {
        let suspended = ok(api_key(store, &with(&["suspend", &id]), ""));
        assert!(suspended.starts_with("suspended key"), "{suspended}");
        let again = ok(api_key(store, &with(&["suspend", &id]), ""));
        assert!(again.contains("already suspended"), "{again}");
        let refused = api_key(store, &with(&["check"]), &key);
        assert_eq!(refused.status.code(), Some(1));
        assert!(
            text(&refused.stdout).contains("is suspended"),
            "{refused:?}"
        );
        let listed = ok(api_key(
            store,
            &with(&["list", "--status", "suspended"]),
            "",
        ));
        assert!(
            listed.lines().any(|line| line.starts_with(id.as_str())),
            "{listed}"
        );
        let resumed = ok(api_key(store, &with(&["resume", &id]), ""));
        assert!(resumed.starts_with("resumed key"), "{resumed}");
        authenticate(store, drf, &key).await.unwrap();
    }

    let revoked = ok(api_key(store, &with(&["revoke", &id, "--yes"]), ""));
    assert!(revoked.starts_with("revoked key"), "{revoked}");
    let again = ok(api_key(store, &with(&["revoke", &id, "--yes"]), ""));
    assert!(again.contains("already revoked"), "{again}");

    let refused = api_key(store, &with(&["check"]), &key);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stdout).contains("is revoked"),
        "{:?}",
        refused
    );
    assert!(matches!(
        authenticate(store, drf, &key).await,
        Err(AuthFailure::Revoked(_))
    ));
    let listed = ok(api_key(store, &with(&["list", "--status", "revoked"]), ""));
    assert!(
        listed.lines().any(|line| line.starts_with(id.as_str())),
        "{listed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_lives_and_dies_through_the_command_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("keys.db").display());
    lifecycle(&store, &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_lives_and_dies_through_the_command_on_a_drf_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("drf.sqlite3");
    copy_drf_table(&path);
    lifecycle(&format!("sqlite:{}", path.display()), &["--schema", "drf"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_lives_and_dies_through_the_command_on_servers() {
    // Each store the command was built with (its default features: all).
    #[cfg(feature = "postgres")]
    if let Some(url) = common::postgres_url("cli::on PostgreSQL") {
        lifecycle(&url, &[]).await;
    }
    #[cfg(feature = "mysql")]
    if let Some(url) = common::mysql_url("cli::on MySQL") {
        lifecycle(&common::isolated_mysql_url(&url).await, &[]).await;
    }
    #[cfg(feature = "redis")]
    if let Some(url) = common::redis_url("cli::on Redis") {
        lifecycle(&url, &[]).await;
    }
}

/// A server running in this process, caching its keys and following the
/// store's revocation feed, refuses within a second a key the command (in
/// a process of its own) revoked.
async fn a_revocation_by_the_command_reaches_a_running_server(store: &str, schema: &[&str]) {
    use api_key_auth::{cache::CachedStore, store::open::Opened, KeyManager, NewKey};
    use std::{sync::Arc, time::Duration};
    let drf = schema == ["--schema", "drf"];
    let with = |args: &[&str]| -> Vec<String> {
        schema.iter().chain(args).map(|a| a.to_string()).collect()
    };
    // On a Django table, `migrate` installs the triggers the feed needs.
    ok(api_key(store, &with(&["migrate"]), ""));
    let server: Arc<dyn KeyManager> =
        match api_key_auth::store::open::open(store, drf).await.unwrap() {
            Opened::Sqlite(inner) => {
                let feed = inner.revocations();
                Arc::new(CachedStore::new(inner).with_invalidations(feed))
            }
            Opened::MySql(inner) => {
                let feed = inner.revocations();
                Arc::new(CachedStore::new(inner).with_invalidations(feed))
            }
            other => panic!("not a store with a change log: {other:?}"),
        };
    let (record, key) = server
        .create(NewKey::named("served"))
        .await
        .unwrap()
        .reveal();
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        format!("Api-Key {}", key.expose_secret()).parse().unwrap(),
    );
    let auth = Authenticator::new(server.clone());
    auth.authenticate(&headers).await.unwrap();
    auth.authenticate(&headers).await.unwrap(); // now from the cache

    ok(api_key(store, &with(&["revoke", &record.id, "--yes"]), ""));
    let started = std::time::Instant::now();
    loop {
        match auth.authenticate(&headers).await {
            Err(AuthFailure::Revoked(_)) => break,
            Ok(_) if started.elapsed() < Duration::from_secs(1) => {
                tokio::time::sleep(Duration::from_millis(10)).await
            }
            other => panic!(
                "still {other:?} {:?} after the command revoked it",
                started.elapsed()
            ),
        }
    }
    println!(
        "{store}: the server refused the key {:?} after the command revoked it",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_by_the_command_reaches_a_running_server_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("keys.db").display());
    a_revocation_by_the_command_reaches_a_running_server(&store, &[]).await;

    let path = dir.path().join("drf.sqlite3");
    copy_drf_table(&path);
    let store = format!("sqlite:{}", path.display());
    a_revocation_by_the_command_reaches_a_running_server(&store, &["--schema", "drf"]).await;
    // And out again: the triggers go, Django's table stays as it was.
    ok(api_key(
        &store,
        &["--schema", "drf", "migrate", "--remove-triggers"],
        "",
    ));
    let triggers: i64 = rusqlite::Connection::open(&path)
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(triggers, 0);
}

#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_by_the_command_reaches_a_running_server_on_mysql() {
    if let Some(url) = common::mysql_url("cli::a revocation reaching a server on MySQL") {
        let url = common::isolated_mysql_url(&url).await;
        a_revocation_by_the_command_reaches_a_running_server(&url, &[]).await;
    }
}

/// The same on MySQL with the server's feed cut off (through a proxy): a
/// key the command revokes meanwhile is refused once the feed's failing
/// reads flush the cache (at most a backoff of 2 s), and once the line is
/// back, a revocation by the command is heard within a second again.
#[cfg(feature = "mysql")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_by_the_command_reaches_a_server_whose_feed_was_cut() {
    use api_key_auth::{cache::CachedStore, store::mysql::MySqlStore, KeyManager, NewKey};
    use std::time::Duration;
    let Some(url) = common::mysql_url("cli::a revocation reaching a server whose feed was cut")
    else {
        return;
    };
    let url = common::isolated_mysql_url(&url).await;
    let target = common::host_port(&url);
    let proxy = common::Proxy::start(&target).await;
    let store = MySqlStore::connect(&url).await.unwrap();
    let feed = MySqlStore::connect(&proxy.url(&url, &target))
        .await
        .unwrap()
        .revocations();
    let server = CachedStore::new(store).with_invalidations(feed);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let refused_within = |key: String, limit: Duration| {
        let auth = Authenticator::new(server.clone());
        async move {
            let mut headers = HeaderMap::new();
            headers.insert(AUTHORIZATION, format!("Api-Key {key}").parse().unwrap());
            let started = std::time::Instant::now();
            loop {
                match auth.authenticate(&headers).await {
                    Err(AuthFailure::Revoked(_)) => return started.elapsed(),
                    Ok(_) if started.elapsed() < limit => {
                        tokio::time::sleep(Duration::from_millis(10)).await
                    }
                    other => panic!("still {other:?} after {:?}", started.elapsed()),
                }
            }
        }
    };
    for cut in [true, false] {
        let (record, key) = server
            .create(NewKey::named("served"))
            .await
            .unwrap()
            .reveal();
        let key = key.expose_secret().to_owned();
        assert!(authenticate(&url, false, &key).await.is_ok());
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, format!("Api-Key {key}").parse().unwrap());
        Authenticator::new(server.clone())
            .authenticate(&headers)
            .await
            .unwrap();
        if cut {
            proxy.cut();
        }
        ok(api_key(&url, &["revoke", &record.id, "--yes"], ""));
        let limit = Duration::from_secs(if cut { 3 } else { 1 });
        let took = refused_within(key, limit).await;
        println!(
            "feed cut: {cut}; the server refused the key {took:?} after the command revoked it"
        );
        if cut {
            proxy.restore();
            tokio::time::sleep(Duration::from_secs(3)).await;
        }
    }
}

/// Each failure is one line on stderr and exit status 1.
#[test]
fn failures_are_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("keys.db").display());
    let cases: [(&str, &[&str], &str, &str); 16] = [
        (
            &store,
            &["rotate", "nosuchid"],
            "",
            "no key has the id or prefix",
        ),
        (
            &store,
            &["list", "--unused-for", "soon"],
            "",
            "--unused-for \"soon\"",
        ),
        (
            &store,
            &["list", "--expiring-within", "7x"],
            "",
            "--expiring-within \"7x\"",
        ),
        ("ftp://nowhere", &["list"], "", "not \"ftp://nowhere\""),
        (
            "postgres://nobody@127.0.0.1:1/none",
            &["list"],
            "",
            "cannot open postgres://",
        ),
        (
            &store,
            &["show", "nosuchid"],
            "",
            "no key has the id or prefix \"nosuchid\"",
        ),
        (
            &store,
            &["create", "--name", "x", "--expires-in", "5x"],
            "",
            "--expires-in \"5x\"",
        ),
        (
            &store,
            &[
                "create",
                "--name",
                "x",
                "--expires-at",
                "2001-01-01T00:00:00Z",
            ],
            "",
            "is in the past",
        ),
        (&store, &["check"], "", "no key on standard input"),
        (
            &store,
            &["create", "--name", "x", "--meta", "novalue"],
            "",
            "is not KEY=VALUE",
        ),
        (
            &store,
            &["create", "--name", "a\x1b[2Jb"],
            "",
            "--name: the name holds the character U+001B",
        ),
        // What the admin API refuses, the command refuses too.
        (
            &store,
            &["create", "--name", "evil\u{202e}gnp.exe"],
            "",
            "--name: the name holds the character U+202E",
        ),
        (
            &store,
            &["create", "--name", LONG_NAME],
            "",
            "--name: a name is at most 50 characters",
        ),
        (
            &store,
            &["create", "--name", "x", "--scope", "two words"],
            "",
            "--scope: the scope \"two words\" must be printable ASCII",
        ),
        (
            &store,
            &["create", "--name", "x", "--owner", "\u{9b}31m"],
            "",
            "--owner: the owner holds the character U+009B",
        ),
        (
            "memory",
            &["migrate", "--remove-triggers"],
            "",
            "change triggers exist on SQLite, PostgreSQL and MySQL only",
        ),
    ];
    for (url, args, stdin, expected) in cases {
        let line = one_line_failure(api_key(url, args, stdin));
        assert!(line.contains(expected), "{args:?}: {line}");
    }
    // Without a store at all.
    let output = Command::new(env!("CARGO_BIN_EXE_api-key"))
        .arg("list")
        .env_remove("APIKEY_STORE")
        .output()
        .unwrap();
    assert!(one_line_failure(output).contains("give --store URL or set APIKEY_STORE"));
    // Revoking asks for confirmation, and a script without a terminal must say --yes.
    let created = ok(api_key(&store, &["create", "--name", "kept", "--json"], ""));
    let id = serde_json::from_str::<serde_json::Value>(&created).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let line = one_line_failure(api_key(&store, &["revoke", &id], ""));
    assert!(line.contains("pass --yes"), "{line}");
}

/// A store the command cannot open never has its password printed, in
/// whatever form it was written: libpq's `key=value` form is not echoed,
/// and a URL missing its `//` is refused before it reaches the driver,
/// whose error would quote the password.
#[test]
fn a_store_password_is_never_printed() {
    for store in [
        "host=db user=app password=S3cretPW dbname=keys",
        "postgresql:app:S3cretPW@127.0.0.1/keys",
        "mysql:app:S3cretPW@127.0.0.1/keys",
        "redis:app:S3cretPW@127.0.0.1",
        "postgres://app:S3cretPW@127.0.0.1:1/keys",
    ] {
        let output = api_key(store, &["list"], "");
        let line = one_line_failure(output);
        assert!(!line.contains("S3cretPW"), "{store}: {line}");
    }
}

/// A name one character over what a DRF table holds.
const LONG_NAME: &str = "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn";

/// Whatever a store holds, the command prints it escaped: control
/// characters (C0, C1) and format characters (bidi overrides) in ids,
/// names, owners and metadata, in every output, `--json` included. Printed
/// raw, a row whose id held `ESC ] 52 ; c ; … BEL` would write to the
/// terminal's clipboard through `check`, and a U+202E would reorder what
/// `list` shows.
#[test]
fn what_a_store_holds_is_printed_escaped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.db");
    let store = format!("sqlite:{}", path.display());
    let created: serde_json::Value = serde_json::from_str(&ok(api_key(
        &store,
        &["create", "--name", "plain", "--json"],
        "",
    )))
    .unwrap();
    let key = created["key"].as_str().unwrap().to_owned();
    let evil_id = "\u{1b}]52;c;aGk=\u{7}";
    let evil_name = "gnp\u{202e}exe\u{9b}31m";
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute(
            "UPDATE api_keys SET id = ?1, name = ?2, owner = ?3, metadata = ?4",
            (
                evil_id,
                evil_name,
                "own\u{200b}er",
                r#"{"k\u001b":"v\u202e"}"#,
            ),
        )
        .unwrap();
    let prefix = &key[..8];
    let outputs = [
        ok(api_key(&store, &["check"], &key)),
        ok(api_key(&store, &["list"], "")),
        ok(api_key(&store, &["list", "--json"], "")),
        ok(api_key(&store, &["show", prefix], "")),
        ok(api_key(&store, &["show", prefix, "--json"], "")),
        ok(api_key(&store, &["rotate", prefix, "--grace", "60s"], "")),
        ok(api_key(&store, &["revoke", prefix, "--yes"], "")),
    ];
    for output in &outputs {
        for c in ['\u{1b}', '\u{7}', '\u{9b}', '\u{202e}', '\u{200b}'] {
            assert!(!output.contains(c), "{c:?} printed raw in {output:?}");
        }
    }
    assert!(
        outputs[0].contains(r"\u{1b}]52;c;aGk=\u{7}"),
        "{}",
        outputs[0]
    );
    assert!(
        outputs[1].contains(r"gnp\u{202e}exe\u{9b}31m"),
        "{}",
        outputs[1]
    );
    // The JSON still reads back as what the store holds.
    let listed: serde_json::Value = serde_json::from_str(outputs[2].trim()).unwrap();
    assert_eq!(listed["id"], evil_id);
    assert_eq!(listed["name"], evil_name);
    assert_eq!(listed["metadata"]["k\u{1b}"], "v\u{202e}");
}

/// `rotate` prints the new key once and says until when the old one works;
/// both pass during the grace, only the new one after it; `show` names the
/// link both ways; `list` tells expiry and last use, and its audit filters
/// find the keys they should. On this crate's table and on a DRF table
/// (by expiry alone there).
async fn rotation_and_audits(store: &str, schema: &[&str]) {
    let drf = schema == ["--schema", "drf"];
    let with = |args: &[&str]| -> Vec<String> {
        schema.iter().chain(args).map(|a| a.to_string()).collect()
    };
    ok(api_key(store, &with(&["migrate"]), ""));
    let created: serde_json::Value = serde_json::from_str(&ok(api_key(
        store,
        &with(&[
            "create",
            "--name",
            "rotated",
            "--expires-in",
            "3d",
            "--json",
        ]),
        "",
    )))
    .unwrap();
    let (old_id, old_key) = (
        created["id"].as_str().unwrap().to_owned(),
        created["key"].as_str().unwrap().to_owned(),
    );
    let rotated: serde_json::Value = serde_json::from_str(&ok(api_key(
        store,
        &with(&["rotate", &old_id, "--grace", "2s", "--json"]),
        "",
    )))
    .unwrap();
    let new_key = rotated["key"].as_str().unwrap().to_owned();
    let new_id = rotated["id"].as_str().unwrap().to_owned();
    assert_eq!(rotated["name"], "rotated");
    assert_eq!(rotated["retired"]["id"], old_id.as_str());
    let left = rotated["expires_in_secs"].as_i64().unwrap();
    assert!(
        (3 * 86_400 - 60..=3 * 86_400).contains(&left),
        "a 3-day key's successor: {left}"
    );
    for key in [&old_key, &new_key] {
        let checked = ok(api_key(store, &with(&["check"]), key));
        assert!(checked.starts_with("accepted"), "{checked}");
    }
    let old_check = ok(api_key(store, &with(&["check"]), &old_key));
    let told = if drf {
        "it expires at" // a DRF table keeps no link: an expiry is all it knows
    } else {
        "has been replaced and stops working at"
    };
    assert!(old_check.contains(told), "{old_check}");
    if !drf {
        let shown = ok(api_key(store, &with(&["show", &new_id]), ""));
        assert!(shown.contains(&format!("replaces  {old_id}")), "{shown}");
        let shown = ok(api_key(store, &with(&["show", &old_id]), ""));
        assert!(shown.contains(&format!("replaced  by {new_id}")), "{shown}");
    }
    let expiring = ok(api_key(
        store,
        &with(&["list", "--expiring-within", "7d"]),
        "",
    ));
    assert!(
        expiring.lines().any(|l| l.starts_with(&new_id)),
        "{expiring}"
    );
    assert!(
        expiring.lines().next().unwrap().contains("LEFT"),
        "{expiring}"
    );
    let later = ok(api_key(
        store,
        &with(&["create", "--name", "later", "--expires-in", "30d", "--json"]),
        "",
    ));
    let later_id = serde_json::from_str::<serde_json::Value>(&later).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let expiring = ok(api_key(
        store,
        &with(&["list", "--expiring-within", "7d"]),
        "",
    ));
    assert!(
        !expiring.lines().any(|l| l.starts_with(&later_id)),
        "{expiring}"
    );
    let unused = api_key(store, &with(&["list", "--unused-for", "1d"]), "");
    if drf {
        let line = one_line_failure(unused);
        assert!(line.contains("records no last use"), "{line}");
    } else {
        let unused = ok(unused);
        assert!(!unused.lines().any(|l| l.starts_with(&new_id)), "{unused}");
    }

    tokio::time::sleep(std::time::Duration::from_millis(2200)).await;
    let refused = api_key(store, &with(&["check"]), &old_key);
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused.stdout).contains("has expired"), "{refused:?}");
    assert!(ok(api_key(store, &with(&["check"]), &new_key)).starts_with("accepted"));
    authenticate(store, drf, &new_key).await.unwrap();
    let once = ok(api_key(
        store,
        &with(&["rotate", &new_id, "--grace", "0"]),
        "",
    ));
    assert!(once.contains("is revoked"), "{once}");
    let line = one_line_failure(api_key(store, &with(&["rotate", &new_id]), ""));
    assert!(line.contains("revoked"), "{line}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_through_the_command_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("keys.db").display());
    rotation_and_audits(&store, &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_through_the_command_on_a_drf_table() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("drf.sqlite3");
    copy_drf_table(&path);
    let store = format!("sqlite:{}", path.display());
    rotation_and_audits(&store, &["--schema", "drf"]).await;
}

#[test]
fn every_subcommand_explains_itself_with_an_example() {
    for command in [
        "migrate", "create", "list", "show", "revoke", "suspend", "resume", "rotate", "check",
        "serve", "gate",
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_api-key"))
            .args([command, "--help"])
            .output()
            .unwrap();
        let help = ok(output);
        assert!(
            (help.contains("Example:\n") || help.contains("Examples:\n"))
                && help.contains("api-key --store"),
            "{command}: {help}"
        );
    }
    let help = ok(Command::new(env!("CARGO_BIN_EXE_api-key"))
        .arg("--help")
        .output()
        .unwrap());
    assert!(help.contains("The first admin key"), "{help}");
}

/// `serve` puts the admin API over the chosen store: an admin key made by
/// the command creates a key over HTTP, which the command then sees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_gives_the_admin_api_over_the_store() {
    use std::io::BufRead as _;
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("keys.db").display());
    let created = ok(api_key(
        &store,
        &[
            "create",
            "--name",
            "admin",
            "--scope",
            "keys:admin",
            "--json",
        ],
        "",
    ));
    let admin_key = serde_json::from_str::<serde_json::Value>(&created).unwrap()["key"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut server = Command::new(env!("CARGO_BIN_EXE_api-key"))
        .args(["--store", &store, "serve", "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufReader::new(server.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let addr: std::net::SocketAddr = first
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {first:?}"));

    let body = r#"{"name": "made over http"}"#;
    let request = format!(
        "POST /keys HTTP/1.1\r\nHost: test\r\nConnection: close\r\nAuthorization: Api-Key {admin_key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let response = common::raw(addr, request.as_bytes()).await;
    let refused = common::http_get(addr, "/keys", &[]).await;
    let document = common::http_get(addr, "/openapi.json", &[]).await;
    server.kill().unwrap();
    let output = server.wait_with_output().unwrap();
    let log = text(&output.stderr);
    assert!(
        log.contains("API key created"),
        "serve logs who created what: {log}"
    );
    assert!(!log.contains(&admin_key[9..]), "no secret in the log");
    // Colours are for a terminal: a log redirected to a file gets none.
    assert!(
        !log.contains('\u{1b}'),
        "no terminal escape in a log that is no terminal: {log:?}"
    );

    assert_eq!(response.status, 201, "{}", response.body);
    assert_eq!(refused.status, 401);
    assert_eq!(document.status, 200);
    let listed = ok(api_key(&store, &["list"], ""));
    assert!(listed.contains("made over http"), "{listed}");
}

/// `create --rate` gives the key a limit the store keeps and `show` tells;
/// with `--brand` keys are handed out branded, `check --brand` reads them,
/// and a mistyped branded key is refused on its checksum.
#[test]
fn keys_get_rate_limits_and_brands() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("keys.db").display());
    let created: serde_json::Value = serde_json::from_str(&ok(api_key(
        &store,
        &[
            "create", "--name", "partner", "--rate", "100/s", "--burst", "20", "--json",
        ],
        "",
    )))
    .unwrap();
    assert_eq!(
        created["rate_limit"],
        serde_json::json!({"requests": 100, "period_secs": 1, "period_ms": 1000, "burst": 20})
    );
    let id = created["id"].as_str().unwrap();
    let shown = ok(api_key(&store, &["show", id], ""));
    assert!(shown.contains("rate      100/1s burst 20"), "{shown}");
    // `check` says whether a rate-limited key is valid.
    let limited = created["key"].as_str().unwrap();
    assert!(ok(api_key(&store, &["check"], limited)).starts_with("accepted"));

    let branded: serde_json::Value = serde_json::from_str(&ok(api_key(
        &store,
        &["--brand", "myco", "create", "--name", "ci", "--json"],
        "",
    )))
    .unwrap();
    let key = branded["key"].as_str().unwrap().to_owned();
    let pattern = regex::Regex::new(r"^myco_[A-Za-z0-9]{8}\.[A-Za-z0-9]{38}$").unwrap();
    assert!(pattern.is_match(&key), "{key}");
    let checked = ok(api_key(&store, &["--brand", "myco", "check"], &key));
    assert!(checked.starts_with("accepted"), "{checked}");
    // The DRF key inside it is the same key.
    let inner = &key[5..5 + 41];
    assert!(ok(api_key(&store, &["check"], inner)).starts_with("accepted"));
    let mut mistyped = key.clone().into_bytes();
    mistyped[10] = if mistyped[10] == b'a' { b'b' } else { b'a' };
    let refused = api_key(
        &store,
        &["--brand", "myco", "check"],
        std::str::from_utf8(&mistyped).unwrap(),
    );
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused.stdout).contains("checksum"), "{refused:?}");

    for (args, says) in [
        (
            &["create", "--name", "x", "--rate", "0/s"][..],
            "--rate \"0/s\"",
        ),
        (
            &["create", "--name", "x", "--rate", "fast"][..],
            "--rate \"fast\"",
        ),
        (
            &["--brand", "My-Co", "create", "--name", "x"][..],
            "--brand",
        ),
    ] {
        let line = one_line_failure(api_key(&store, args, ""));
        assert!(line.contains(says), "{args:?}: {line}");
    }
}

/// `create --allow-from` confines a key to its networks: `show` and
/// `--json` say which, `check --from` answers for an address inside and
/// outside, `check` without an address says it needs one, and what does not
/// read (or a DRF table, which cannot keep a list) is one clear line.
#[test]
fn keys_are_confined_to_the_networks_they_allow() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("keys.db").display());
    let created: serde_json::Value = serde_json::from_str(&ok(api_key(
        &store,
        &[
            "create",
            "--name",
            "office",
            "--allow-from",
            "10.0.0.0/8,2001:db8::/32",
            "--allow-from",
            "192.0.2.7",
            "--json",
        ],
        "",
    )))
    .unwrap();
    assert_eq!(
        created["allowed_from"],
        serde_json::json!(["10.0.0.0/8", "2001:db8::/32", "192.0.2.7/32"])
    );
    let id = created["id"].as_str().unwrap();
    let key = created["key"].as_str().unwrap();
    let shown = ok(api_key(&store, &["show", id], ""));
    assert!(
        shown.contains("from      10.0.0.0/8, 2001:db8::/32, 192.0.2.7/32"),
        "{shown}"
    );
    let inside = ok(api_key(&store, &["check", "--from", "10.9.8.7"], key));
    assert!(inside.starts_with("accepted"), "{inside}");
    let outside = api_key(&store, &["check", "--from", "203.0.113.1"], key);
    assert_eq!(outside.status.code(), Some(1));
    assert!(
        text(&outside.stdout).contains("may not be used from 203.0.113.1"),
        "{outside:?}"
    );
    let line = one_line_failure(api_key(&store, &["check"], key));
    assert!(line.contains("--from"), "{line}");
    let open: serde_json::Value = serde_json::from_str(&ok(api_key(
        &store,
        &["create", "--name", "open", "--json"],
        "",
    )))
    .unwrap();
    assert!(open["allowed_from"].is_null(), "{open}");
    let shown = ok(api_key(&store, &["show", open["id"].as_str().unwrap()], ""));
    assert!(shown.contains("from      anywhere"), "{shown}");

    for (list, says) in [
        ("10.0.0.1/8", "10.0.0.0/8"),
        ("ten", "\"ten\" is not a network"),
        ("::ffff:10.0.0.0/104", "as IPv4"),
    ] {
        let line = one_line_failure(api_key(
            &store,
            &["create", "--name", "x", "--allow-from", list],
            "",
        ));
        assert!(
            line.contains("--allow-from") && line.contains(says),
            "{list}: {line}"
        );
    }
    let drf = dir.path().join("drf.sqlite3");
    copy_drf_table(&drf);
    let drf = format!("sqlite:{}", drf.display());
    let line = one_line_failure(api_key(
        &drf,
        &[
            "--schema",
            "drf",
            "create",
            "--name",
            "x",
            "--allow-from",
            "10.0.0.0/8",
        ],
        "",
    ));
    assert!(line.contains("address allowlist"), "{line}");
}

/// One owner's keys through the command: listed with `--owner`, suspended,
/// resumed and revoked together, another owner's (differing only in case)
/// untouched; an id and `--owner` together, or neither, is one clear line.
#[tokio::test]
async fn an_owner_s_keys_are_listed_and_changed_together() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("keys.db").display());
    let create = |name: &str, owner: &str| {
        let created: serde_json::Value = serde_json::from_str(&ok(api_key(
            &store,
            &["create", "--name", name, "--owner", owner, "--json"],
            "",
        )))
        .unwrap();
        created["key"].as_str().unwrap().to_owned()
    };
    let acme = [create("a", "acme"), create("b", "acme")];
    let other = create("c", "Acme");
    let listed = ok(api_key(&store, &["list", "--owner", "acme", "--json"], ""));
    assert_eq!(listed.lines().count(), 2, "{listed}");
    assert!(
        listed
            .lines()
            .all(|line| line.contains("\"owner\":\"acme\"")),
        "{listed}"
    );

    let said = ok(api_key(&store, &["suspend", "--owner", "acme"], ""));
    assert!(
        said.contains("2 key(s) of owner \"acme\" suspended"),
        "{said}"
    );
    for key in &acme {
        assert!(matches!(
            authenticate(&store, false, key).await,
            Err(AuthFailure::Suspended(_))
        ));
    }
    authenticate(&store, false, &other).await.unwrap();
    let said = ok(api_key(&store, &["resume", "--owner", "acme"], ""));
    assert!(
        said.contains("2 key(s) of owner \"acme\" resumed"),
        "{said}"
    );
    authenticate(&store, false, &acme[0]).await.unwrap();

    let refused = one_line_failure(api_key(&store, &["revoke", "--owner", "acme"], ""));
    assert!(refused.contains("--yes"), "{refused}");
    let said = ok(api_key(&store, &["revoke", "--owner", "acme", "--yes"], ""));
    assert!(
        said.contains("2 key(s) of owner \"acme\" revoked"),
        "{said}"
    );
    for key in &acme {
        assert!(matches!(
            authenticate(&store, false, key).await,
            Err(AuthFailure::Revoked(_))
        ));
    }
    authenticate(&store, false, &other).await.unwrap();

    for args in [
        &["revoke", "n58lzybi", "--owner", "acme"][..],
        &["suspend"][..],
    ] {
        let output = api_key(&store, args, "");
        assert_eq!(
            output.status.code(),
            Some(2),
            "{args:?}: clap's usage error"
        );
        assert!(text(&output.stderr).contains("--owner") || text(&output.stderr).contains("<ID>"));
    }
}

/// `create --credits N --refill A/I`: the key works N times, `show` and
/// `--json` say how many are left and when they come back, and a refill
/// that does not read is one clear line.
#[test]
fn keys_get_usage_credits() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("keys.db").display());
    let created: serde_json::Value = serde_json::from_str(&ok(api_key(
        &store,
        &[
            "create",
            "--name",
            "trial",
            "--credits",
            "2",
            "--refill",
            "100/1d",
            "--json",
        ],
        "",
    )))
    .unwrap();
    assert_eq!(created["credits"]["remaining"], 2, "{created}");
    assert_eq!(created["credits"]["refill_amount"], 100);
    assert_eq!(created["credits"]["refill_every_secs"], 86_400);
    assert!(created["credits"]["next_refill"].is_string());
    let id = created["id"].as_str().unwrap();
    let key = created["key"].as_str().unwrap();
    for _ in 0..3 {
        let checked = ok(api_key(&store, &["check"], key));
        assert!(checked.starts_with("accepted"), "{checked}");
    }
    let shown = ok(api_key(&store, &["show", id], ""));
    assert!(
        shown.contains("credits   2 left; refill 100/1d, next at "),
        "check spends none: {shown}"
    );
    let plain: serde_json::Value = serde_json::from_str(&ok(api_key(
        &store,
        &["create", "--name", "open", "--json"],
        "",
    )))
    .unwrap();
    assert!(plain["credits"].is_null());
    for (args, says) in [
        (
            &[
                "create",
                "--name",
                "x",
                "--credits",
                "5",
                "--refill",
                "lots",
            ][..],
            "--refill \"lots\"",
        ),
        (
            &["create", "--name", "x", "--credits", "9007199254740992"][..],
            "--credits",
        ),
    ] {
        let line = one_line_failure(api_key(&store, args, ""));
        assert!(line.contains(says), "{args:?}: {line}");
    }
}

/// `create --count N` makes N working keys, a batch of 1000 at a time,
/// a line each: JSON with --json, else id, a tab and the key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_created_by_the_thousand() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("keys.db").display());
    let out = ok(api_key(
        &store,
        &["create", "--name", "device", "--count", "2500", "--json"],
        "",
    ));
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 2500);
    let prefixes: std::collections::HashSet<&str> = lines
        .iter()
        .map(|l| l["prefix"].as_str().unwrap())
        .collect();
    assert_eq!(prefixes.len(), 2500, "every key its own prefix");
    for line in [&lines[0], &lines[1499], &lines[2499]] {
        assert_eq!(line["name"], "device");
        authenticate(&store, false, line["key"].as_str().unwrap())
            .await
            .unwrap();
    }

    let out = ok(api_key(
        &store,
        &["create", "--name", "few", "--count", "3"],
        "",
    ));
    let rows: Vec<(&str, &str)> = out.lines().map(|l| l.split_once('\t').unwrap()).collect();
    assert_eq!(rows.len(), 3);
    authenticate(&store, false, rows[2].1).await.unwrap();
    let listed = ok(api_key(&store, &["list", "--json"], ""));
    assert_eq!(listed.lines().count(), 2503);

    let refused = api_key(&store, &["create", "--name", "x", "--count", "0"], "");
    assert_eq!(refused.status.code(), Some(2), "a usage error");
    let said = text(&refused.stderr);
    assert!(
        said.starts_with("error: invalid value '0' for '--count"),
        "{said}"
    );
}

/// The command takes the zone too, and says what is wrong with one it
/// does not know.
#[test]
fn the_command_takes_the_zone_and_refuses_an_unknown_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("sqlite:{}", dir.path().join("keys.db").display());
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_api-key"))
        .args(["--store", &store, "--schema", "drf"])
        .args(["--drf-time-zone", "Mars/Olympus_Mons", "list"])
        .env_remove("APIKEY_STORE")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("--drf-time-zone") && stderr.contains("Mars/Olympus_Mons"),
        "{stderr}"
    );
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_api-key"))
        .args(["--store", &store, "--drf-time-zone", "Asia/Tokyo", "list"])
        .env_remove("APIKEY_STORE")
        .env_remove("APIKEY_STORE_SCHEMA")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("add --schema drf"), "{stderr}");
}

/// A batch whose keys cannot be shown (stdout is a full disk, or a pipe
/// closed by `| head -1`) is revoked, and the failure says so: no key
/// stays active with its secret lost.
#[test]
fn a_batch_whose_output_fails_is_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}", dir.path().join("keys.db").display());
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_api-key"))
        .args(["--store", &url, "create", "--name", "lost", "--count", "5"])
        .stdout(full)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "writing to /dev/full failed: {stderr}"
    );
    let listed = std::process::Command::new(env!("CARGO_BIN_EXE_api-key"))
        .args(["--store", &url, "list", "--status", "active", "--json"])
        .output()
        .unwrap();
    assert!(
        stderr.contains("revoked"),
        "the failure says the batch was revoked: {stderr}"
    );
    let active = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .filter(|l| l.contains("\"lost\""))
        .count();
    assert_eq!(
        active, 0,
        "api-key failed with {stderr:?} yet left {active} working keys whose secrets were never shown"
    );
}
