//! Bad input at the layer: every malformed, unknown or wrong credential gets
//! the same 401, challenge and body, and never reaches the inner service.

use crate::common;

use api_key_auth::{reject::UNAUTHORIZED_BODY, ApiKeyLayer, NewKey};
use common::{authenticator, bad_credentials, body_text, store_with_key, Echo, Reasons};
use http::{HeaderValue, Request, StatusCode};
use tower::{Layer, ServiceExt};

const CHALLENGE: &str = r#"Api-Key realm="test""#;

#[tokio::test]
async fn every_bad_credential_gets_the_same_401() {
    let (store, key) = store_with_key(NewKey::named("good")).await;
    let reasons = Reasons::default();
    let echo = Echo::default();
    let service = ApiKeyLayer::from(authenticator(store, &reasons)).layer(echo.clone());

    let cases = bad_credentials(&key);
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

#[tokio::test]
async fn whitespace_around_the_value_is_not_part_of_it() {
    // RFC 9110 §5.5: HTTP/1.1 parsers drop it before any layer sees the
    // value; HTTP/2 peers may send it; either way the key is the same.
    let (store, key) = store_with_key(NewKey::named("good")).await;
    let service = ApiKeyLayer::new(store).layer(Echo::default());
    for value in [
        format!(" Api-Key {key}"),
        format!("Api-Key {key} "),
        format!("\tApi-Key {key}\t"),
    ] {
        let request = Request::get("/")
            .header("authorization", &value)
            .body(String::new())
            .unwrap();
        let response = service.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{value:?}");
    }
}
