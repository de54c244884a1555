//! A handler that panics answers 500 problem+json like any other failure on
//! our side, instead of taking down its worker and every connection on it.

use std::panic::AssertUnwindSafe;

use actix_web::Error;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use futures_util::FutureExt;

use crate::ApiError;

/// Runs the rest of the chain; a panic in it becomes a 500 `internal_error`
/// (the panic itself is reported by the process's panic hook). It is
/// returned as an error, which actix turns into `ApiError`'s response: the
/// request cannot be kept for a response of our own, since routing needs it
/// unshared.
pub(crate) async fn answer_panics(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let path = request.path().to_owned();
    match AssertUnwindSafe(next.call(request)).catch_unwind().await {
        Ok(result) => result,
        Err(_) => {
            tracing::error!(path, "a handler panicked; answered 500");
            Err(ApiError::Internal.into())
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::panic)]
mod tests {
    use actix_web::middleware::from_fn;
    use actix_web::{App, HttpResponse, test, web};

    use super::*;

    async fn boom() -> HttpResponse {
        panic!("a bug")
    }

    #[actix_web::test]
    async fn a_panicking_handler_answers_500_problem_json_and_the_worker_serves_on() {
        let app = test::init_service(
            App::new()
                .wrap(from_fn(answer_panics))
                .route("/boom", web::get().to(boom))
                .route("/fine", web::get().to(|| async { HttpResponse::Ok().finish() })),
        )
        .await;
        let error = test::try_call_service(&app, test::TestRequest::get().uri("/boom").to_request())
            .await
            .err()
            .unwrap();
        // What actix's dispatcher sends for it.
        let response = error.error_response();
        assert_eq!(response.status(), 500);
        assert_eq!(
            response.headers().get("content-type").unwrap(),
            "application/problem+json"
        );
        assert_eq!(
            error.as_error::<ApiError>().map(ApiError::code),
            Some("internal_error")
        );
        let response = test::call_service(&app, test::TestRequest::get().uri("/fine").to_request()).await;
        assert_eq!(response.status(), 200);
    }
}
