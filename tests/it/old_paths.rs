//! The paths of 0.2 that moved in 0.3 still name the same items, through
//! deprecated re-exports: code written against 0.2 builds, with warnings.
#![allow(deprecated)]

use std::any::TypeId;

#[test]
fn moved_paths_name_the_same_types() {
    assert_eq!(
        TypeId::of::<api_key_auth::limit::RateLimit>(),
        TypeId::of::<api_key_auth::rate_limit::RateLimit>()
    );
    assert_eq!(
        TypeId::of::<api_key_auth::limit::RateLimitError>(),
        TypeId::of::<api_key_auth::rate_limit::RateLimitError>()
    );
    assert_eq!(
        TypeId::of::<api_key_auth::client::ClientAddr>(),
        TypeId::of::<api_key_auth::client_addr::ClientAddr>()
    );
    assert_eq!(
        TypeId::of::<api_key_auth::client::TrustedProxies>(),
        TypeId::of::<api_key_auth::client_addr::TrustedProxies>()
    );
    assert_eq!(
        TypeId::of::<api_key_auth::axum::MissingIdentity>(),
        TypeId::of::<api_key_auth::actix::MissingIdentity>()
    );
    let limit: api_key_auth::limit::RateLimit = "10/s".parse().unwrap();
    assert_eq!(limit.requests(), 10);
}

#[tokio::test]
async fn the_old_name_of_a_testkit_option_runs_the_same_checks() {
    let store = api_key_auth::MemoryStore::new();
    api_key_auth::testkit::Conformance::new(store)
        .without_extras()
        .run()
        .await
        .unwrap();
}
