//! What the admin API's OpenAPI document says of every guarded operation,
//! written once here rather than on each handler: the refusals of the
//! layer in front of them (401, 403, 429, 503, each a problem with the
//! headers it carries), and the body errors of every operation that reads
//! a body (413, 415). And the server the document's paths are relative to.

use utoipa::openapi::{
    header::HeaderBuilder,
    path::Operation,
    response::{Response, ResponseBuilder},
    server::Server,
    Content, Object, ObjectBuilder, OpenApi, Ref, RefOr, Schema, Type,
};

/// The content type of every problem the API answers.
const PROBLEM: &str = "application/problem+json";

/// Adds the layer's refusals to every guarded operation, the body errors
/// to every operation with a body, and the rule of metadata keys.
pub(super) fn complete(doc: &mut OpenApi) {
    metadata_keys_are_printable(doc);
    for (path, item) in doc.paths.paths.iter_mut() {
        if path == "/openapi.json" {
            continue;
        }
        for operation in [&mut item.get, &mut item.post].into_iter().flatten() {
            add_refusals(operation);
            if operation.request_body.is_some() {
                add(operation, "413", problem("The body is over 64 KiB", &[]));
                add(
                    operation,
                    "415",
                    problem("The body is not application/json", &[]),
                );
            }
        }
    }
}

/// The document with `servers` naming `base`, where the router is mounted
/// (or where a user said it is reached), so that a client made from it
/// calls `base/keys`, not `/keys`.
pub(super) fn served_at(mut doc: OpenApi, base: &str) -> OpenApi {
    doc.servers = Some(vec![Server::new(if base.is_empty() { "/" } else { base })]);
    doc
}

/// A new key's metadata keys follow the rule its values do (the derive
/// says only that they are strings).
fn metadata_keys_are_printable(doc: &mut OpenApi) {
    let Some(components) = doc.components.as_mut() else {
        return;
    };
    let pattern = match components.schemas.get("PrintableText") {
        Some(RefOr::T(Schema::Object(text))) => text.pattern.clone(),
        _ => None,
    };
    if let Some(RefOr::T(Schema::Object(request))) = components.schemas.get_mut("CreateKeyRequest")
    {
        if let Some(RefOr::T(Schema::Object(metadata))) = request.properties.get_mut("metadata") {
            metadata.property_names = Some(Box::new(Schema::Object(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .pattern(pattern)
                    .build(),
            )));
        }
    }
}

fn add_refusals(operation: &mut Operation) {
    let challenge = (
        "WWW-Authenticate",
        "The `Api-Key` challenge, with `error=\"insufficient_scope\"` on a 403",
    );
    let retry = ("Retry-After", "Seconds to wait before trying again");
    add(
        operation,
        "401",
        problem(
            "No valid admin key: missing, malformed, unknown, wrong, revoked, suspended or \
             expired (one answer for all)",
            &[challenge],
        ),
    );
    add(
        operation,
        "403",
        problem("The key lacks the admin scope", &[challenge]),
    );
    add(
        operation,
        "429",
        problem(
            "Too many failed attempts from this client address",
            &[retry],
        ),
    );
    // Every operation says 503 itself; this one also tells its header.
    operation.responses.responses.insert(
        "503".to_owned(),
        RefOr::T(problem(
            "The key store failed or did not answer in time",
            &[retry],
        )),
    );
}

/// Adds `response` under `status` unless the operation documents it itself.
fn add(operation: &mut Operation, status: &str, response: Response) {
    operation
        .responses
        .responses
        .entry(status.to_owned())
        .or_insert(RefOr::T(response));
}

/// A problem answer, with `headers` it always carries.
fn problem(description: &str, headers: &[(&str, &str)]) -> Response {
    let mut response = ResponseBuilder::new().description(description).content(
        PROBLEM,
        Content::new(Some(RefOr::Ref(Ref::from_schema_name("Problem")))),
    );
    for (name, description) in headers {
        response = response.header(
            *name,
            HeaderBuilder::new()
                .schema(Object::with_type(Type::String))
                .description(Some(*description))
                .build(),
        );
    }
    response.build()
}
