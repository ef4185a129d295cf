//! The admin HTTP endpoint: `/health`, `/status` and `/metrics`.
//!
//! It reads only what the drive loop publishes (a [`NodeStatus`] on a watch
//! channel) and the shared [`Metrics`], so a slow scraper never touches the
//! replica.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::drive::NodeStatus;
use crate::metrics::Metrics;

/// What the handlers read.
#[derive(Clone)]
pub struct AdminState {
    /// The drive loop's latest status.
    pub status: watch::Receiver<NodeStatus>,
    /// The node's counters.
    pub metrics: Arc<Metrics>,
}

/// The router of the admin endpoint.
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// Serves the admin endpoint until `shutdown` turns true.
///
/// # Errors
///
/// The server's IO error, if it fails.
pub async fn serve(
    listener: TcpListener,
    state: AdminState,
    mut shutdown: watch::Receiver<bool>,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move {
            let _ = shutdown.changed().await;
        })
        .await
}

#[derive(Serialize)]
struct Health {
    healthy: bool,
    role: &'static str,
    leader: Option<u64>,
    reason: &'static str,
}

/// 200 while this node knows a leader that has a quorum, 503 otherwise.
async fn health(State(state): State<AdminState>) -> Response {
    let status = state.status.borrow().clone();
    let healthy = status.is_healthy();
    let body = Health {
        healthy,
        role: status.role,
        leader: status.leader,
        reason: if healthy {
            "a leader with a quorum is known"
        } else {
            "no leader known: the cluster cannot commit through this node"
        },
    };
    let code = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

async fn status(State(state): State<AdminState>) -> Json<NodeStatus> {
    Json(state.status.borrow().clone())
}

async fn metrics(State(state): State<AdminState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}
