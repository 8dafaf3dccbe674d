//! Constant time, measured: a dudect-style test (see `support/dudect.rs`)
//! of the verification path and of the memory store's lookups.
//!
//! ```text
//! cargo bench --bench constant_time
//! MEASUREMENTS=100000 cargo bench --bench constant_time
//! ```
//!
//! Cases: a secret wrong at its first byte vs at its last; a stored digest
//! wrong at its first digit vs at its last (the compare itself); both for
//! SHA-256 and DRF's `sha512$$`; and, through an authenticator over a memory
//! store, a known prefix with a wrong secret vs a prefix the store does not
//! know. 1,000,000 measurements a class by default; the target is |t| below
//! 5 for each. A control that is not constant time shows that the test
//! sees a leak when there is one. Then the store pair again as a client
//! sees it, over HTTP on loopback (200,000 a class; `MEASUREMENTS_HTTP`).
//!
//! A verdict rather than times, so this bench prints its own report.

mod support;

use support::{dudect, timing_cases};

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return; // `cargo test --benches` lists benches; this one has none to list.
    }
    let per_class = std::env::var("MEASUREMENTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000_000);
    println!("dudect-style Welch t-test; |t| < 5 means no difference was found");
    let mut worst: f64 = 0.0;
    for (name, mut run) in timing_cases::cases() {
        let verdict = dudect::measure(per_class, &mut run);
        worst = worst.max(verdict.max_t());
        println!("{}", verdict.line(name));
    }
    let (name, mut control) = timing_cases::leaky_case();
    println!(
        "{}",
        dudect::measure(per_class.min(100_000), &mut control).line(name)
    );
    let (name, mut skipped) = timing_cases::skipped_check_case();
    println!(
        "{}",
        dudect::measure(per_class.min(100_000), &mut skipped).line(name)
    );
    println!("largest |t| of the real cases: {worst:.2} (target: below 5)");
    let per_request = std::env::var("MEASUREMENTS_HTTP")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(per_class.min(200_000));
    let name = "over HTTP: wrong secret vs unknown prefix";
    println!("{}", over_http(per_request).line(name));
}

/// The same pair over HTTP on loopback, as a client measures it: a known
/// prefix with a wrong secret vs an unknown prefix, sent to an axum server
/// behind the layer over one keep-alive connection, timed from the first
/// byte written to the last byte of the 401 read.
fn over_http(per_class: usize) -> dudect::Verdict {
    use api_key_auth::{ApiKeyLayer, KeyManager, MemoryStore, NewKey};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let store = MemoryStore::new();
    let (_, key) = support::now(store.create(NewKey::named("timing")))
        .unwrap()
        .reveal();
    let key = key.expose_secret().to_owned();
    let app = axum::Router::new()
        .route("/", axum::routing::get(|| async { "hi" }))
        .layer(ApiKeyLayer::new(store));
    let listener = server
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    server.spawn(async move { axum::serve(listener, app).await });

    let requests = timing_cases::known_and_unknown(&key).map(|class| {
        class
            .iter()
            .map(|key| {
                format!(
                    "GET / HTTP/1.1\r\nhost: localhost\r\nauthorization: Api-Key {}\r\n\r\n",
                    std::str::from_utf8(key).unwrap()
                )
                .into_bytes()
            })
            .collect::<Vec<_>>()
    });
    let client = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut stream = client
        .block_on(tokio::net::TcpStream::connect(addr))
        .unwrap();
    stream.set_nodelay(true).unwrap();
    let mut buffer = vec![0u8; 4096];
    // Every refusal is the same 401: its length is learnt once.
    let response_len = client.block_on(async {
        stream.write_all(&requests[0][0]).await.unwrap();
        let mut got = 0;
        loop {
            got += stream.read(&mut buffer[got..]).await.unwrap();
            let text = String::from_utf8_lossy(&buffer[..got]);
            if let Some(head) = text.find("\r\n\r\n") {
                let length: usize = text
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .unwrap()
                    .trim()
                    .parse()
                    .unwrap();
                if got >= head + 4 + length {
                    assert!(text.starts_with("HTTP/1.1 401"), "{text}");
                    break head + 4 + length;
                }
            }
        }
    });
    dudect::measure(per_class, |class, i| {
        let request = &requests[class][i % 64];
        client.block_on(async {
            let started = std::time::Instant::now();
            stream.write_all(request).await.unwrap();
            let mut got = 0;
            while got < response_len {
                got += stream.read(&mut buffer[got..]).await.unwrap();
            }
            started.elapsed()
        })
    })
}
