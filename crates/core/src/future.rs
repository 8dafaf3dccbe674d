//! The response future shared by the tower layers.

use std::{
    future::Future,
    marker::PhantomData,
    pin::Pin,
    task::{ready, Context, Poll},
};

use bytes::Bytes;
use http::{Request, Response};
use pin_project_lite::pin_project;
use tower::Service;

use crate::{
    auth::{CheckFuture, Sunset},
    body::{BodyMode, WrappedBody},
};

/// RFC 8594's `Sunset`: the moment a key in a rotation's grace period stops working.
pub(crate) const SUNSET: http::HeaderName = http::HeaderName::from_static("sunset");

pin_project! {
    /// Response future of [`ApiKeyService`](crate::ApiKeyService) and
    /// [`RequireScopesService`](crate::scope::RequireScopesService).
    pub struct ResponseFuture<S, ReqBody, M = WrappedBody>
    where
        S: Service<Request<ReqBody>>,
    {
        #[pin]
        state: State<S, ReqBody>,
        mode: PhantomData<M>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<S, ReqBody>
    where
        S: Service<Request<ReqBody>>,
    {
        // Waiting for a store that could not answer at once; holds the request
        // and the service that was made ready for it, boxed so the common,
        // synchronous states keep the future small.
        Checking { check: CheckFuture, pending: Option<Box<(Request<ReqBody>, S)>> },
        // `sunset`: when the key stops working, for keys in a rotation's
        // grace period, to tell the client in the response.
        Called { #[pin] future: S::Future, sunset: Sunset },
        // Boxed: a refusal is the rare path, and an inline response would
        // make every future (and every move of one) larger.
        Refused { response: Option<Box<Response<Bytes>>> },
    }
}

impl<S, ReqBody, M> ResponseFuture<S, ReqBody, M>
where
    S: Service<Request<ReqBody>>,
{
    pub(crate) fn called(future: S::Future, sunset: Sunset) -> Self {
        Self {
            state: State::Called { future, sunset },
            mode: PhantomData,
        }
    }

    pub(crate) fn refused(response: Box<Response<Bytes>>) -> Self {
        Self {
            state: State::Refused {
                response: Some(response),
            },
            mode: PhantomData,
        }
    }

    pub(crate) fn checking(check: CheckFuture, request: Request<ReqBody>, service: S) -> Self {
        Self {
            state: State::Checking {
                check,
                pending: Some(Box::new((request, service))),
            },
            mode: PhantomData,
        }
    }
}

impl<S, ReqBody, ResBody, M> Future for ResponseFuture<S, ReqBody, M>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    M: BodyMode<ResBody>,
{
    type Output = Result<Response<M::Body>, S::Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            match state.as_mut().project() {
                StateProj::Checking { check, pending } => {
                    let verdict = ready!(check.as_mut().poll(cx));
                    let Some(pending) = pending.take() else {
                        panic!("ResponseFuture polled after completion");
                    };
                    let (mut request, mut service) = *pending;
                    match verdict {
                        Ok(passed) => {
                            let sunset = passed.sunset;
                            request.extensions_mut().insert(passed.identity);
                            let future = service.call(request);
                            state.set(State::Called { future, sunset });
                        }
                        Err(response) => return Poll::Ready(Ok(response.map(M::refusal))),
                    }
                }
                StateProj::Called { future, sunset } => {
                    let mut response = ready!(future.poll(cx))?;
                    if let Some(value) = sunset.header() {
                        response.headers_mut().insert(SUNSET, value);
                    }
                    return Poll::Ready(Ok(response.map(M::inner)));
                }
                StateProj::Refused { response } => {
                    let Some(response) = response.take() else {
                        panic!("ResponseFuture polled after completion");
                    };
                    return Poll::Ready(Ok((*response).map(M::refusal)));
                }
            }
        }
    }
}
