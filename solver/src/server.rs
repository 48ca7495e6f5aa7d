//! The solver's HTTP server (axum): checkpoints, models, per-step state roots
//! and step commitments for verifiers and submitters; status and metrics for
//! the operator. Every artifact is addressed by a root committed on chain, so
//! a reader checks what it gets.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use alloy::primitives::B256;
use axum::Router;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use vtrain_dispute::game::Trajectory;
use vtrain_proof_of_learning::Hash32;
use vtrain_store::ArtifactKey;

use crate::shared::Shared;
use crate::step_reports::{PER_CLIENT_PER_MINUTE, StepReport};

/// The routes.
pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .route("/v1/status", get(status))
        .route("/v1/jobs/{id}/progress", get(progress))
        .route("/v1/traces/{trace}/checkpoints/{c}", get(checkpoint))
        .route("/v1/traces/{trace}/steps/{t}", get(step))
        .route("/v1/models/{root}", get(model))
        .with_state(shared)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, message.into()).into_response()
}

fn octets(bytes: bytes::Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/octet-stream")], bytes).into_response()
}

async fn metrics(State(shared): State<Arc<Shared>>) -> String {
    shared.metrics.render()
}

async fn status(State(shared): State<Arc<Shared>>) -> Response {
    let report = shared.status.read().clone();
    axum::Json(report).into_response()
}

#[derive(Serialize)]
struct Progress {
    job_id: u64,
    step: u32,
    steps: u32,
    losses: Vec<Option<f32>>,
}

async fn progress(State(shared): State<Arc<Shared>>, Path(id): Path<u64>) -> Response {
    let held = shared
        .jobs
        .read()
        .get(&id)
        .map(|j| (j.progress.load(Ordering::Relaxed), j.trainer.spec().steps));
    let Some((step, steps)) = held else {
        return error(
            StatusCode::NOT_FOUND,
            format!("job {id} is not one of this solver's"),
        );
    };
    let losses = shared
        .datadir
        .load::<crate::training::TrainingRecord>(&crate::training::record_name(id))
        .ok()
        .flatten()
        .map(|r| r.losses)
        .unwrap_or_default();
    axum::Json(Progress {
        job_id: id,
        step,
        steps,
        losses,
    })
    .into_response()
}

/// What the routes need of the job whose trace root is `root`.
struct TraceJob {
    root: B256,
    checkpoint_roots: Vec<B256>,
    trainer: Arc<vtrain_proof_of_learning::Trainer>,
    tamper: Option<vtrain_dispute::game::Tamper>,
    disputed: bool,
}

/// The job whose trace root is `trace`, if this solver holds it.
fn find_trace(shared: &Shared, trace: &str) -> Option<TraceJob> {
    let root: B256 = trace.parse().ok()?;
    let jobs = shared.jobs.read();
    jobs.values()
        .find(|j| j.trace_root == Some(root))
        .map(|j| TraceJob {
            root,
            checkpoint_roots: j.checkpoint_roots.clone(),
            trainer: j.trainer.clone(),
            tamper: j.tamper,
            disputed: j.disputed,
        })
}

async fn checkpoint(
    State(shared): State<Arc<Shared>>,
    Path((trace, c)): Path<(String, u32)>,
) -> Response {
    let Some(TraceJob {
        checkpoint_roots: roots,
        trainer,
        ..
    }) = find_trace(&shared, &trace)
    else {
        return error(StatusCode::NOT_FOUND, format!("no trace {trace} here"));
    };
    let Some(root) = roots.get(c as usize) else {
        return error(
            StatusCode::NOT_FOUND,
            format!("the trace has no checkpoint {c}"),
        );
    };
    let step = c * trainer.spec().checkpoint_interval;
    if shared.fault.is_some_and(|f| f.withholds(step)) {
        return error(
            StatusCode::NOT_FOUND,
            format!("checkpoint {c} is not available"),
        );
    }
    match shared
        .store
        .get_raw(&ArtifactKey::State(Hash32(root.0)))
        .await
    {
        Ok(Some(bytes)) => octets(bytes),
        Ok(None) => error(
            StatusCode::NOT_FOUND,
            format!("checkpoint {c} is not stored"),
        ),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

async fn model(State(shared): State<Arc<Shared>>, Path(root): Path<String>) -> Response {
    let Ok(root) = root.parse::<B256>() else {
        return error(StatusCode::BAD_REQUEST, "not a root");
    };
    match shared
        .store
        .get_raw(&ArtifactKey::Model(Hash32(root.0)))
        .await
    {
        Ok(Some(bytes)) => octets(bytes),
        Ok(None) => error(StatusCode::NOT_FOUND, format!("no model {root} here")),
        Err(e) => error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    }
}

/// Step `t`'s state roots and step commitment, under the guard of
/// `crate::step_reports`: only while a game on the trace is open, from the
/// cache when it can be, one replay at a time, a bounded rate per client.
async fn step(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    Path((trace, t)): Path<(String, u32)>,
) -> Response {
    let Some(TraceJob {
        root: trace_root,
        checkpoint_roots: roots,
        trainer,
        tamper,
        disputed,
    }) = find_trace(&shared, &trace)
    else {
        return error(StatusCode::NOT_FOUND, format!("no trace {trace} here"));
    };
    if !disputed {
        return error(
            StatusCode::CONFLICT,
            "step reports are served only while a game on this trace is open",
        );
    }
    let spec = trainer.spec();
    if t >= spec.steps {
        return error(
            StatusCode::NOT_FOUND,
            format!("the job has {} steps", spec.steps),
        );
    }
    let reports = &shared.step_reports;
    if reports.admit(client.ip(), Instant::now()).is_err() {
        return too_many(&format!(
            "at most {PER_CLIENT_PER_MINUTE} step reports a minute per client"
        ));
    }
    if let Some(report) = reports.cached(trace_root, t) {
        return axum::Json(report).into_response();
    }
    let Ok(_slot) = reports.replay_slot() else {
        return too_many("another step report is being replayed");
    };
    let c = t / spec.checkpoint_interval;
    let step = c * spec.checkpoint_interval;
    if shared.fault.is_some_and(|f| f.withholds(step)) {
        return error(StatusCode::NOT_FOUND, format!("step {t} is not available"));
    }
    let start = match roots.get(c as usize) {
        Some(root) => {
            shared
                .store
                .intact_state(&trainer, step, &Hash32(root.0))
                .await
        }
        None => Ok(None),
    };
    let start = match start {
        Ok(Some(state)) => state,
        Ok(None) => return error(StatusCode::NOT_FOUND, "the checkpoint is not stored"),
        Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, e.to_string()),
    };
    let report = tokio::task::spawn_blocking(move || {
        let mut trajectory = Trajectory::new(trainer, tamper);
        trajectory.seed(start);
        let state_root = trajectory.state_root(t);
        let next_state_root = trajectory.state_root(t + 1);
        let list_roots = trajectory
            .transition(false, t)
            .list_merkles()
            .map(|h| B256::from(h.0));
        StepReport {
            step: t,
            state_root: B256::from(state_root.0),
            next_state_root: B256::from(next_state_root.0),
            list_roots,
        }
    })
    .await;
    match report {
        Ok(report) => {
            reports.keep(trace_root, report.clone());
            axum::Json(report).into_response()
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
    }
}

fn too_many(message: &str) -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(header::RETRY_AFTER, "5")],
        message.to_owned(),
    )
        .into_response()
}
