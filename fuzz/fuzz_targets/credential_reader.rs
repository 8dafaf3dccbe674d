//! The credential reader over arbitrary header maps: several headers, the
//! credential header more than once, odd bytes, huge values, the real key
//! (plain and branded) among them. Through `Authenticator::authenticate`
//! and through the layer: never a panic, never a 500; a key gets in only
//! when the request carries exactly that key once; the layer passes no
//! credential to the service it guards.
#![no_main]

use std::{
    future::Future,
    pin::pin,
    task::{Context, Poll, Waker},
};

use api_key_auth::{
    key_format::KeyFormat, ApiKeyLayer, Authenticator, Identity, KeyManager, MemoryStore, NewKey,
};
use arbitrary::Arbitrary;
use http::{HeaderMap, HeaderName, HeaderValue, Request, Response};
use libfuzzer_sys::fuzz_target;
use tower::{Layer, Service};

#[derive(Arbitrary, Debug)]
enum Name {
    Authorization,
    AuthorizationUpper,
    XApiKey,
    Forwarded,
    Other(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum Value {
    Raw(Vec<u8>),
    /// `<scheme> <the real key>`, in DRF's form or branded.
    Key {
        scheme: Vec<u8>,
        branded: bool,
    },
    /// The real key with one byte changed.
    Changed {
        branded: bool,
        at: u8,
        to: u8,
    },
    /// A value of `len` times `byte` (up to 100 kB, several times what
    /// servers take in all their headers).
    Huge {
        byte: u8,
        len: u32,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    headers: Vec<(Name, Value)>,
}

struct Setup {
    auth: Authenticator,
    layer: ApiKeyLayer,
    plain: String,
    branded: String,
}

fn setup() -> Setup {
    let store = MemoryStore::new();
    let (_, key) = now(store.create(NewKey::named("fuzz"))).unwrap().reveal();
    let format = KeyFormat::branded("fuzz").unwrap();
    let plain = key.expose_secret().to_owned();
    let branded = format.render(&key).to_string();
    let auth = Authenticator::builder(store)
        .accept(format)
        .build()
        .unwrap();
    Setup {
        layer: ApiKeyLayer::from(auth.clone()),
        auth,
        plain,
        branded,
    }
}

/// Everything here answers at once (a memory store, no slow hash).
fn now<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => output,
        Poll::Pending => panic!("a future had to wait"),
    }
}

thread_local! {
    static SETUP: Setup = setup();
}

/// The guarded service: checks that no credential reached it.
#[derive(Clone)]
struct Guarded;

impl Service<Request<()>> for Guarded {
    type Response = Response<String>;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Response<String>, Self::Error>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<()>) -> Self::Future {
        for value in request.headers().get_all("authorization") {
            assert!(
                value.is_sensitive(),
                "a credential reached the service unprotected"
            );
        }
        assert!(request.extensions().get::<Identity>().is_some());
        std::future::ready(Ok(Response::new(String::new())))
    }
}

fn value_of(value: &Value, setup: &Setup) -> Vec<u8> {
    let key = |branded: bool| {
        if branded {
            &setup.branded
        } else {
            &setup.plain
        }
    };
    match value {
        Value::Raw(bytes) => bytes.clone(),
        Value::Key { scheme, branded } => {
            let mut bytes = scheme.clone();
            bytes.push(b' ');
            bytes.extend_from_slice(key(*branded).as_bytes());
            bytes
        }
        Value::Changed { branded, at, to } => {
            let mut bytes = format!("Api-Key {}", key(*branded)).into_bytes();
            let at = 8 + usize::from(*at) % (bytes.len() - 8);
            bytes[at] = *to;
            bytes
        }
        Value::Huge { byte, len } => vec![*byte; (*len as usize) % 100_000],
    }
}

fuzz_target!(|input: Input| {
    SETUP.with(|setup| {
        let mut headers = HeaderMap::new();
        for (name, value) in input.headers.iter().take(64) {
            let name = match name {
                Name::Authorization => HeaderName::from_static("authorization"),
                Name::AuthorizationUpper => match HeaderName::from_bytes(b"AUTHORIZATION") {
                    Ok(name) => name,
                    Err(_) => continue,
                },
                Name::XApiKey => HeaderName::from_static("x-api-key"),
                Name::Forwarded => HeaderName::from_static("forwarded"),
                Name::Other(bytes) => match HeaderName::from_bytes(bytes) {
                    Ok(name) => name,
                    Err(_) => continue,
                },
            };
            let Ok(value) = HeaderValue::from_bytes(&value_of(value, setup)) else {
                continue;
            };
            headers.append(name, value);
        }
        let credentials: Vec<&[u8]> = headers
            .get_all("authorization")
            .iter()
            .map(HeaderValue::as_bytes)
            .collect();
        let the_key_alone = credentials.len() == 1 && {
            let value = credentials[0];
            let presented = |key: &str| {
                value.len() == 8 + key.len()
                    && value[..8].eq_ignore_ascii_case(b"api-key ")
                    && &value[8..] == key.as_bytes()
            };
            presented(&setup.plain) || presented(&setup.branded)
        };

        let verdict = now(setup.auth.authenticate(&headers));
        match &verdict {
            Ok(Some(identity)) => {
                assert!(the_key_alone, "got in with {credentials:?}");
                assert_eq!(identity.name(), "fuzz");
            }
            Ok(None) => panic!("an authenticator that is not optional let a request by"),
            Err(failure) => {
                let response = setup.auth.rejection(failure);
                assert!(
                    matches!(response.status().as_u16(), 400 | 401 | 429),
                    "{failure:?} answered {}",
                    response.status()
                );
                // Neither the failure nor its response shows the secret.
                let shown = format!("{failure:?} {failure} {:?}", response);
                assert!(!shown.contains(&setup.plain[9..]), "{shown}");
            }
        }

        let mut request = Request::new(());
        *request.headers_mut() = headers;
        let mut service = setup.layer.layer(Guarded);
        let response = now(service.call(request)).unwrap();
        assert_eq!(response.status() == 200, matches!(verdict, Ok(Some(_))));
    });
});
