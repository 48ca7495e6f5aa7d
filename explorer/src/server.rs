//! The explorer's HTTP API (axum): JSON under `/api/`, and a stream of
//! server-sent events that tells a page when the chain moved on.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::Stream;
use serde::Serialize;

use crate::chain::Chain;
use crate::view::{JobFilter, STATUSES, job_detail, job_rows};

/// The routes.
pub fn router(chain: Arc<Chain>) -> Router {
    Router::new()
        .route("/api/head", get(head))
        .route("/api/jobs", get(jobs))
        .route("/api/jobs/{id}", get(job))
        .route("/api/jobs/{id}/progress", get(progress))
        .route("/api/jobs/{id}/checkpoints/{index}", get(checkpoint))
        .route("/api/games/{id}", get(game))
        .route("/api/events", get(events))
        .route(
            "/",
            get(|| async { page(INDEX_HTML, "text/html; charset=utf-8") }),
        )
        .route(
            "/app.js",
            get(|| async { page(APP_JS, "text/javascript; charset=utf-8") }),
        )
        .route(
            "/style.css",
            get(|| async { page(STYLE_CSS, "text/css; charset=utf-8") }),
        )
        .with_state(chain)
}

/// The pages, embedded: the explorer is one binary with no build step and
/// nothing fetched from elsewhere.
const INDEX_HTML: &str = include_str!("../assets/index.html");
const APP_JS: &str = include_str!("../assets/app.js");
const STYLE_CSS: &str = include_str!("../assets/style.css");

/// What a page may load: only the explorer's own files and API. Chain data
/// is untrusted (anyone can post a job or announce a location); the pages
/// insert it as text, and this policy is the second line.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

fn page(body: &'static str, content_type: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

/// An error as JSON: `{"error": "..."}` with its status.
fn error(status: StatusCode, message: impl Into<String>) -> Response {
    #[derive(Serialize)]
    struct Body {
        error: String,
    }
    (
        status,
        axum::Json(Body {
            error: message.into(),
        }),
    )
        .into_response()
}

async fn head(State(chain): State<Arc<Chain>>) -> Response {
    axum::Json(&*chain.snapshot()).into_response()
}

async fn jobs(
    State(chain): State<Arc<Chain>>,
    filter: Result<Query<JobFilter>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(filter)) = filter else {
        return error(
            StatusCode::BAD_REQUEST,
            "the filters are status, submitter and solver (an address)",
        );
    };
    if let Some(status) = &filter.status
        && !STATUSES.iter().any(|s| s.eq_ignore_ascii_case(status))
    {
        return error(
            StatusCode::BAD_REQUEST,
            format!("status {status:?} is none of {}", STATUSES.join(", ")),
        );
    }
    let snapshot = chain.snapshot();
    axum::Json(job_rows(
        &snapshot.book,
        &snapshot.currencies,
        &filter,
        snapshot.time,
    ))
    .into_response()
}

async fn job(State(chain): State<Arc<Chain>>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return error(StatusCode::BAD_REQUEST, format!("{id:?} is not a job id"));
    };
    let snapshot = chain.snapshot();
    let progress_key = vtrain_dispute::progress_key(id);
    match job_detail(
        &snapshot.book,
        &snapshot.currencies,
        id,
        snapshot.time,
        progress_key,
    ) {
        Some(detail) => axum::Json(detail).into_response(),
        None => error(StatusCode::NOT_FOUND, format!("no job {id}")),
    }
}

async fn progress(State(chain): State<Arc<Chain>>, Path(id): Path<String>) -> Response {
    use crate::progress::ProgressError;
    let Ok(id) = id.parse::<u64>() else {
        return error(StatusCode::BAD_REQUEST, format!("{id:?} is not a job id"));
    };
    let snapshot = chain.snapshot();
    match crate::progress::fetch(&chain.http, &snapshot.book, id).await {
        Ok(progress) => axum::Json(progress).into_response(),
        Err(e @ (ProgressError::NoJob(_) | ProgressError::NotAnnounced(_))) => {
            error(StatusCode::NOT_FOUND, e.to_string())
        }
        Err(e @ ProgressError::Unavailable { .. }) => error(StatusCode::BAD_GATEWAY, e.to_string()),
    }
}

/// Whether checkpoint `index` of job `id` is served by its solver and is the
/// committed state (`crate::checkpoints`).
async fn checkpoint(
    State(chain): State<Arc<Chain>>,
    Path((id, index)): Path<(String, String)>,
) -> Response {
    let (Ok(id), Ok(index)) = (id.parse::<u64>(), index.parse::<u32>()) else {
        return error(
            StatusCode::BAD_REQUEST,
            format!("{id:?} / {index:?} is not a job id and a checkpoint index"),
        );
    };
    let snapshot = chain.snapshot();
    match chain.check_checkpoint(&snapshot.book, id, index).await {
        Ok(found) => axum::Json(found).into_response(),
        Err(e) => error(StatusCode::NOT_FOUND, e.to_string()),
    }
}

async fn game(State(chain): State<Arc<Chain>>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<u64>() else {
        return error(StatusCode::BAD_REQUEST, format!("{id:?} is not a game id"));
    };
    let snapshot = chain.snapshot();
    match crate::game::game_detail(&chain, &snapshot, id).await {
        Ok(Some(detail)) => axum::Json(detail).into_response(),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no game {id}")),
        Err(e) => error(
            StatusCode::BAD_GATEWAY,
            format!("the node did not answer: {e}"),
        ),
    }
}

/// `event: head` with the snapshot's block, time and version, at once and
/// at every new snapshot; a comment every 15 s keeps proxies from closing
/// an idle stream.
async fn events(
    State(chain): State<Arc<Chain>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let receiver = chain.subscribe();
    let stream =
        futures_util::stream::unfold((receiver, true), |(mut receiver, first)| async move {
            if !first && receiver.changed().await.is_err() {
                return None;
            }
            let snapshot = receiver.borrow_and_update().clone();
            let event = Event::default()
                .event("head")
                .json_data(&*snapshot)
                .unwrap_or_else(|_| Event::default().event("head"));
            Some((Ok(event), (receiver, false)))
        });
    Sse::new(stream).keep_alive(KeepAlive::default())
}
