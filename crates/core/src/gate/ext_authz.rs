//! The gate as Envoy's `ext_authz` gRPC service
//! (`envoy.service.auth.v3.Authorization/Check`, feature `ext-authz`).

use std::net::IpAddr;

use envoy_types::ext_authz::v3::{
    pb::{Authorization, AuthorizationServer, CheckRequest, CheckResponse, HttpStatusCode},
    CheckRequestExt as _, CheckResponseExt as _, DeniedHttpResponseBuilder, OkHttpResponseBuilder,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use http_body_util::BodyExt as _;

use super::{gateway_or_client, original::Original, Gate};
use crate::client_addr::Client;

/// Envoy's `ext_authz` over gRPC, answered by a [`Gate`]: made by
/// [`Gate::ext_authz`], served by tonic (on its own, or beside the HTTP
/// gate on one port).
#[derive(Debug, Clone)]
pub struct ExtAuthz {
    gate: Gate,
}

impl Gate {
    /// The gate as the gRPC service Envoy's `ext_authz` filter asks
    /// (`grpc_service`): a pass is `OK` with the identity headers added to
    /// the request and `Authorization` removed from it; a refusal is denied
    /// with the HTTP status, headers and body the HTTP gate would answer.
    /// The client's address (for the throttle) is the request's source
    /// address when the caller is a trusted proxy, else the caller's own.
    pub fn ext_authz(&self) -> AuthorizationServer<ExtAuthz> {
        AuthorizationServer::new(ExtAuthz { gate: self.clone() })
    }
}

#[tonic::async_trait]
impl Authorization for ExtAuthz {
    async fn check(
        &self,
        request: tonic::Request<CheckRequest>,
    ) -> Result<tonic::Response<CheckResponse>, tonic::Status> {
        // tonic's own server says the peer; served by axum beside the HTTP
        // gate, its connection info does.
        let peer = request
            .remote_addr()
            .map(|addr| addr.ip())
            .or_else(|| crate::client_addr::peer(request.extensions()));
        let check = request.into_inner();
        let proxies = &self.gate.inner.proxies;
        let client = match peer {
            None => Client::default(),
            // The source Envoy names; one that does not read leaves the
            // client unknown (Envoy's own address is no client's).
            Some(peer) if proxies.contains(peer) => match check
                .get_client_address()
                .and_then(|address| address.parse::<IpAddr>().ok())
            {
                Some(source) => Client::known(Some(source)),
                None => Client::vouched_by_proxy(peer),
            },
            Some(peer) => gateway_or_client(proxies, peer),
        };
        let Some(http) = check
            .attributes
            .as_ref()
            .and_then(|attributes| attributes.request.as_ref())
            .and_then(|request| request.http.as_ref())
        else {
            return Err(tonic::Status::invalid_argument(
                "the check names no HTTP request (attributes.request.http)",
            ));
        };
        let path = http.path.split(['?', '#']).next().unwrap_or("/");
        let method = Method::from_bytes(http.method.as_bytes());
        let original = Original {
            readable: method.is_ok() && path.starts_with('/'),
            method: method.unwrap_or(Method::GET),
            path: path.to_owned(),
            host: (!http.host.is_empty()).then(|| super::original::normal_host(&http.host)),
            scheme: (!http.scheme.is_empty()).then(|| http.scheme.to_ascii_lowercase()),
        };
        let mut headers = HeaderMap::new();
        for (name, value) in &http.headers {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_str(value),
            ) {
                headers.append(name, value);
            }
        }
        let answer = self.gate.clone().answer(original, headers, client).await;
        let (parts, body) = answer.into_parts();
        let shown = |value: &HeaderValue| String::from_utf8_lossy(value.as_bytes()).into_owned();
        if parts.status == StatusCode::OK {
            let mut ok = OkHttpResponseBuilder::new();
            for (name, value) in &parts.headers {
                if name != http::header::CACHE_CONTROL {
                    ok.add_header(name.as_str(), shown(value), None, true);
                }
            }
            ok.remove_header("authorization");
            let mut response = CheckResponse::with_status(tonic::Status::ok(""));
            response.set_http_response(ok);
            return Ok(tonic::Response::new(response));
        }
        let body = body
            .collect()
            .await
            .map(|collected| collected.to_bytes())
            .unwrap_or_default();
        let mut denied = DeniedHttpResponseBuilder::new();
        denied.set_http_status(
            HttpStatusCode::try_from(i32::from(parts.status.as_u16()))
                .unwrap_or(HttpStatusCode::Forbidden),
        );
        for (name, value) in &parts.headers {
            denied.add_header(name.as_str(), shown(value), None, false);
        }
        denied.set_body(String::from_utf8_lossy(&body).into_owned());
        let status = match parts.status {
            StatusCode::UNAUTHORIZED => tonic::Status::unauthenticated("API key refused"),
            StatusCode::TOO_MANY_REQUESTS => tonic::Status::resource_exhausted("API key throttled"),
            StatusCode::SERVICE_UNAVAILABLE => {
                tonic::Status::unavailable("API keys cannot be checked now")
            }
            _ => tonic::Status::permission_denied("API key lacks a scope"),
        };
        let mut response = CheckResponse::with_status(status);
        response.set_http_response(denied);
        Ok(tonic::Response::new(response))
    }
}
