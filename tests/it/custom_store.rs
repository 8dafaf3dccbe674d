//! The custom store example: a user's own read-only `KeyStore` over a JSON
//! file, behind the layer in a real axum server.

use crate::common;

#[allow(dead_code)]
#[path = "../../examples/custom_store.rs"]
mod example;

use common::{http_get, serve};
use example::{demo_entry, JsonFileStore};

#[tokio::test]
async fn keys_from_a_json_file_guard_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.json");
    let (good, good_key) = demo_entry("good").unwrap();
    let (mut revoked, revoked_key) = demo_entry("gone").unwrap();
    revoked.revoked = true;
    std::fs::write(&path, serde_json::to_string(&[good, revoked]).unwrap()).unwrap();
    let (_, good_key) = good_key.reveal();
    let (_, revoked_key) = revoked_key.reveal();

    let text = std::fs::read_to_string(&path).unwrap();
    assert!(
        !text.contains(&good_key.expose_secret()[9..]),
        "the file keeps hashes only"
    );

    let addr = serve(example::app(JsonFileStore::load(&path).unwrap())).await;
    let with = |key: &str| format!("Api-Key {key}");
    assert_eq!(http_get(addr, "/health", &[]).await.status, 200);
    let ok = http_get(
        addr,
        "/whoami",
        &[("Authorization", &with(good_key.expose_secret()))],
    )
    .await;
    assert_eq!(ok.status, 200);
    assert!(ok.body.starts_with("hello, good"), "{}", ok.body);
    let gone = http_get(
        addr,
        "/whoami",
        &[("Authorization", &with(revoked_key.expose_secret()))],
    )
    .await;
    assert_eq!(gone.status, 401);
    assert_eq!(http_get(addr, "/whoami", &[]).await.status, 401);
}

#[test]
fn a_bad_entry_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keys.json");
    std::fs::write(
        &path,
        r#"[{"name": "x", "prefix": "short", "hashed_key": "sha256$$00"}]"#,
    )
    .unwrap();
    let err = JsonFileStore::load(&path).err().unwrap();
    assert!(err.contains("entry 0: prefix"), "{err}");
    std::fs::write(
        &path,
        r#"[{"name": "x", "prefix": "abcdefgh", "hashed_key": "md5$$00"}]"#,
    )
    .unwrap();
    let err = JsonFileStore::load(&path).err().unwrap();
    assert!(err.contains("unsupported hash algorithm"), "{err}");
    std::fs::write(&path, "not json").unwrap();
    assert!(JsonFileStore::load(&path).is_err());
}
