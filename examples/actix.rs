//! The quickstart in actix-web: `GET /health` open, `GET /whoami` guarded,
//! `GET /admin/stats` needing the `admin` scope.
//!
//! ```text
//! cargo run --example actix      # 127.0.0.1:3000, PORT to change
//! ```

use actix_web::{web, App, HttpResponse, HttpServer};
use api_key_auth::{
    actix::{ApiKeyAuth, RequireScopes},
    throttle::Throttle,
    Authenticator, Identity, KeyManager, MemoryStore, NewKey,
};

async fn health() -> &'static str {
    "ok"
}

async fn whoami(identity: Identity) -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({
        "id": identity.id(),
        "name": identity.name(),
        "prefix": identity.prefix().as_str(),
        "scopes": identity.scopes(),
    }))
}

/// The example's routes, for the tests to serve too.
pub fn configure(auth: &ApiKeyAuth) -> impl FnOnce(&mut web::ServiceConfig) + '_ {
    move |config| {
        let admin_only = RequireScopes::from(
            auth.authenticator()
                .require_all(["admin"])
                .expect("a valid scope"),
        );
        // Guard the routes, not the whole app, so unknown paths stay 404.
        // The last `wrap` runs first: authenticate, then check the scope.
        config
            .route("/health", web::get().to(health))
            .service(
                web::resource("/whoami")
                    .wrap(auth.clone())
                    .route(web::get().to(whoami)),
            )
            .service(
                web::scope("/admin")
                    .wrap(admin_only)
                    .wrap(auth.clone())
                    .route("/stats", web::get().to(whoami)),
            );
    }
}

#[allow(dead_code)] // the tests reuse `configure` without running `main`
#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = match std::env::var("PORT") {
        Ok(text) => text
            .parse()
            .map_err(|_| format!("PORT must be a port number, got {text:?}"))?,
        Err(_) => 3000,
    };
    let store = MemoryStore::new();
    let (record, key) = store
        .create(NewKey::named("actix").scopes(["read"]))
        .await?
        .reveal();
    // actix-web gives the middleware each request's peer address, which
    // the throttle counts failed attempts by.
    let auth = ApiKeyAuth::from(
        Authenticator::builder(store)
            .realm("actix")
            .throttle(Throttle::default())
            .build()?,
    );

    let server = HttpServer::new(move || App::new().configure(configure(&auth)))
        .bind(("127.0.0.1", port))?;
    println!("listening on http://127.0.0.1:{port}");
    println!(
        "created key {:?} (prefix {}); it is shown once:",
        record.name, record.prefix
    );
    println!();
    println!("    {}", key.expose_secret());
    println!();
    println!("try:");
    println!("    curl -i http://127.0.0.1:{port}/health");
    println!(
        "    curl -i -H 'Authorization: Api-Key {}' http://127.0.0.1:{port}/whoami",
        key.expose_secret()
    );
    drop(key);
    server.run().await?;
    Ok(())
}
