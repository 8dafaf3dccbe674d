//! The response bodies of the layers: the inner service's body, or a refusal's.
//!
//! By default a layer answers with [`AuthBody`], which wraps any inner body.
//! A service whose body type can be built from [`Bytes`] (axum's `Body`,
//! `http_body_util::Full<Bytes>`) may keep that type instead, with
//! [`ApiKeyLayer::with_inner_body`](crate::ApiKeyLayer::with_inner_body):
//! axum then has no need to box the layer's responses again.

use std::{
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

pin_project! {
    /// The body of a response from [`ApiKeyService`](crate::ApiKeyService) or
    /// [`RequireScopesService`](crate::scope::RequireScopesService): the inner service's body
    /// untouched, or the short body of a refusal.
    pub struct AuthBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<B> {
        Inner { #[pin] body: B },
        Refusal { data: Option<Bytes> },
    }
}

impl<B> AuthBody<B> {
    pub(crate) fn inner(body: B) -> Self {
        Self {
            kind: Kind::Inner { body },
        }
    }

    pub(crate) fn refusal(data: Bytes) -> Self {
        // An empty body ends at once: a trailers-only gRPC response must
        // close the stream with its headers.
        let data = (!data.is_empty()).then_some(data);
        Self {
            kind: Kind::Refusal { data },
        }
    }
}

impl<B> Body for AuthBody<B>
where
    B: Body<Data = Bytes>,
{
    type Data = Bytes;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.project().kind.project() {
            KindProj::Inner { body } => body.poll_frame(cx),
            KindProj::Refusal { data } => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Inner { body } => body.is_end_stream(),
            Kind::Refusal { data } => data.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Inner { body } => body.size_hint(),
            Kind::Refusal { data } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
        }
    }
}

/// How a layer's responses carry their bodies: [`WrappedBody`] or [`InnerBody`].
///
/// Sealed: the two modes are the only ones.
pub trait BodyMode<B>: sealed::Sealed {
    /// The body type of the layer's responses.
    type Body;

    #[doc(hidden)]
    fn inner(body: B) -> Self::Body;

    #[doc(hidden)]
    fn refusal(data: Bytes) -> Self::Body;
}

/// The default mode: responses carry an [`AuthBody`] around the inner
/// service's body, whatever its type.
#[derive(Debug, Clone, Copy, Default)]
pub struct WrappedBody;

/// Responses keep the inner service's body type `B`; a refusal's body is
/// made with `B::from(Bytes)`. See [`ApiKeyLayer::with_inner_body`](crate::ApiKeyLayer::with_inner_body).
#[derive(Debug, Clone, Copy, Default)]
pub struct InnerBody;

impl<B> BodyMode<B> for WrappedBody {
    type Body = AuthBody<B>;

    fn inner(body: B) -> AuthBody<B> {
        AuthBody::inner(body)
    }

    fn refusal(data: Bytes) -> AuthBody<B> {
        AuthBody::refusal(data)
    }
}

impl<B: From<Bytes>> BodyMode<B> for InnerBody {
    type Body = B;

    fn inner(body: B) -> B {
        body
    }

    fn refusal(data: Bytes) -> B {
        B::from(data)
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::WrappedBody {}
    impl Sealed for super::InnerBody {}
}

impl<B> std::fmt::Debug for AuthBody<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            Kind::Inner { .. } => f.write_str("AuthBody::Inner"),
            Kind::Refusal { .. } => f.write_str("AuthBody::Refusal"),
        }
    }
}
