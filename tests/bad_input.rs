//! Bad input at the layer: every malformed, unknown or wrong credential gets
//! the same 401, challenge and body, and never reaches the inner service.

mod common;

use api_key_auth::{reject::UNAUTHORIZED_BODY, ApiKeyLayer, NewKey};
use common::{authenticator, body_text, store_with_key, Echo, Reasons};
use http::{HeaderValue, Request, StatusCode};
use tower::{Layer, ServiceExt};

const CHALLENGE: &str = r#"Api-Key realm="test""#;

/// The cases: a name and the Authorization header values to send (none, one or several).
fn cases(key: &str) -> Vec<(&'static str, Vec<Vec<u8>>)> {
    let (prefix, secret) = key.split_once('.').expect("a key has a dot");
    let with = |value: String| vec![value.into_bytes()];
    let replace_secret_char = |at: usize, c: char| {
        let mut s: Vec<char> = secret.chars().collect();
        s[at] = c;
        format!("Api-Key {prefix}.{}", s.into_iter().collect::<String>())
    };
    let mut off_by_one = secret.to_owned().into_bytes();
    off_by_one[31] = if off_by_one[31] == b'a' { b'b' } else { b'a' };
    let off_by_one = String::from_utf8(off_by_one).unwrap();
    let mut other_prefix = prefix.to_owned().into_bytes();
    other_prefix[0] = if other_prefix[0] == b'Z' { b'Y' } else { b'Z' };
    let other_prefix = String::from_utf8(other_prefix).unwrap();

    vec![
        ("no header", vec![]),
        ("empty value", with(String::new())),
        ("scheme only", with("Api-Key".into())),
        ("scheme and space only", with("Api-Key ".into())),
        ("bearer scheme", with(format!("Bearer {key}"))),
        ("basic scheme", with(format!("Basic {key}"))),
        ("scheme without hyphen", with(format!("ApiKey {key}"))),
        ("scheme with underscore", with(format!("Api_Key {key}"))),
        ("missing space", with(format!("Api-Key{key}"))),
        ("tab instead of space", with(format!("Api-Key\t{key}"))),
        ("two spaces", with(format!("Api-Key  {key}"))),
        ("colon after scheme", with(format!("Api-Key: {key}"))),
        ("leading space", with(format!(" Api-Key {key}"))),
        ("trailing space", with(format!("Api-Key {key} "))),
        ("bare key, no scheme", with(key.to_owned())),
        ("prefix only", with(format!("Api-Key {prefix}"))),
        ("secret only", with(format!("Api-Key {secret}"))),
        (
            "prefix of 7",
            with(format!("Api-Key {}.{secret}", &prefix[..7])),
        ),
        ("prefix of 9", with(format!("Api-Key {prefix}x.{secret}"))),
        (
            "secret of 31",
            with(format!("Api-Key {prefix}.{}", &secret[..31])),
        ),
        ("secret of 33", with(format!("Api-Key {prefix}.{secret}x"))),
        ("no dot", with(format!("Api-Key {prefix}x{secret}"))),
        ("extra dot in secret", with(replace_secret_char(10, '.'))),
        (
            "two dots",
            with(format!("Api-Key {prefix}..{}", &secret[1..])),
        ),
        ("dash in secret", with(replace_secret_char(3, '-'))),
        ("underscore in secret", with(replace_secret_char(3, '_'))),
        ("slash in secret", with(replace_secret_char(3, '/'))),
        ("plus in secret", with(replace_secret_char(3, '+'))),
        ("equals in secret", with(replace_secret_char(31, '='))),
        ("percent in secret", with(replace_secret_char(3, '%'))),
        ("quote in secret", with(replace_secret_char(3, '"'))),
        (
            "dash in prefix",
            with(format!("Api-Key -{}.{secret}", &prefix[1..])),
        ),
        (
            "url-encoded dot",
            with(format!("Api-Key {prefix}%2E{secret}")),
        ),
        ("quoted key", with(format!("Api-Key \"{key}\""))),
        ("auth-param key=", with(format!("Api-Key key={key}"))),
        ("auth-param quoted", with(format!("Api-Key key=\"{key}\""))),
        (
            "realm then key",
            with(format!("Api-Key realm=\"x\", {key}")),
        ),
        (
            "comma-joined credentials",
            with(format!("Api-Key {key}, Api-Key {key}")),
        ),
        (
            "comma-joined with other scheme",
            with(format!("Bearer abc, Api-Key {key}")),
        ),
        (
            "repeated good headers",
            vec![format!("Api-Key {key}").into_bytes(); 2],
        ),
        (
            "good header then bad one",
            vec![
                format!("Api-Key {key}").into_bytes(),
                b"Api-Key nope".to_vec(),
            ],
        ),
        ("non-ascii in secret", {
            let mut v = format!("Api-Key {prefix}.{}", &secret[..30]).into_bytes();
            v.extend_from_slice("é".as_bytes());
            vec![v]
        }),
        ("obs-text byte 0xff", {
            let mut v = format!("Api-Key {key}").into_bytes();
            v[20] = 0xff;
            vec![v]
        }),
        (
            "8 KiB value",
            with(format!("Api-Key {}", "A".repeat(8 * 1024))),
        ),
        (
            "64 KiB value",
            with(format!("Api-Key {key}{}", "A".repeat(64 * 1024))),
        ),
        (
            "257-byte value",
            with(format!("Api-Key {}", "a".repeat(249))),
        ),
        (
            "unknown prefix",
            with(format!("Api-Key {other_prefix}.{secret}")),
        ),
        (
            "secret off by one character",
            with(format!("Api-Key {prefix}.{off_by_one}")),
        ),
        (
            "secret in other case",
            with(format!("Api-Key {prefix}.{}", swap_case(secret))),
        ),
        (
            "prefix in other case",
            with(format!("Api-Key {}.{secret}", swap_case(prefix))),
        ),
    ]
}

fn swap_case(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_uppercase() {
                c.to_ascii_lowercase()
            } else {
                c.to_ascii_uppercase()
            }
        })
        .collect()
}

#[tokio::test]
async fn every_bad_credential_gets_the_same_401() {
    let (store, key) = store_with_key(NewKey::named("good")).await;
    let reasons = Reasons::default();
    let echo = Echo::default();
    let service = ApiKeyLayer::from(authenticator(store, &reasons)).layer(echo.clone());

    let cases = cases(&key);
    assert!(cases.len() >= 45, "the suite has {} cases", cases.len());
    for (name, values) in cases {
        let mut request = Request::get("/").body(String::new()).unwrap();
        for value in values {
            let value = HeaderValue::from_bytes(&value).expect("a header value http allows");
            request.headers_mut().append("authorization", value);
        }
        let response = service.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{name}");
        assert_eq!(response.headers()["www-authenticate"], CHALLENGE, "{name}");
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "{name}"
        );
        assert_eq!(
            body_text(response.into_body()).await,
            UNAUTHORIZED_BODY,
            "{name}"
        );
        assert_eq!(
            reasons.take().len(),
            1,
            "{name}: the hook sees exactly one reason"
        );
    }
    assert_eq!(echo.calls(), 0, "no bad request reached the inner service");
}

#[tokio::test]
async fn the_hook_names_the_reason_the_client_never_sees() {
    let (store, key) = store_with_key(NewKey::named("good")).await;
    let reasons = Reasons::default();
    let service = ApiKeyLayer::from(authenticator(store, &reasons)).layer(Echo::default());
    let (prefix, secret) = key.split_once('.').unwrap();

    let expectations = [
        (None, "Missing"),
        (Some("Bearer x".to_owned()), "Scheme"),
        (
            Some(format!("Api-Key {}", "a".repeat(300))),
            "Oversized(308)",
        ),
        (
            Some(format!("Api-Key {prefix}.{}", &secret[..31])),
            "WrongLength { len: 40 }",
        ),
        (
            Some(format!("Api-Key {prefix}-{secret}")),
            "MissingSeparator",
        ),
        (
            Some(format!("Api-Key {prefix}.{}!", &secret[..31])),
            "InvalidCharacter { position: 40 }",
        ),
        (Some(format!("Api-Key ZZZZZZZZ.{secret}")), "UnknownPrefix"),
        (
            Some(format!("Api-Key {prefix}.{}", "Q".repeat(32))),
            "WrongSecret",
        ),
    ];
    for (value, expected) in expectations {
        let mut request = Request::get("/").body(String::new()).unwrap();
        if let Some(value) = &value {
            request
                .headers_mut()
                .insert("authorization", value.parse().unwrap());
        }
        let response = service.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let seen = reasons.take();
        assert_eq!(seen.len(), 1);
        assert!(
            seen[0].contains(expected),
            "{value:?}: hook saw {seen:?}, expected {expected}"
        );
        assert!(
            !seen[0].contains(secret),
            "the reason never carries the secret"
        );
    }
}

#[tokio::test]
async fn the_scheme_matches_in_any_case() {
    let (store, key) = store_with_key(NewKey::named("good")).await;
    let echo = Echo::default();
    let service = ApiKeyLayer::new(store).layer(echo.clone());
    for scheme in ["Api-Key", "api-key", "API-KEY", "aPi-kEy"] {
        let request = Request::get("/")
            .header("authorization", format!("{scheme} {key}"))
            .body(String::new())
            .unwrap();
        let response = service.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{scheme}");
        assert_eq!(body_text(response.into_body()).await, "good");
    }
    assert_eq!(echo.calls(), 4);
}
