//! The admin HTTP endpoint: `/health`, `/status` and `/metrics`, and the
//! membership API under `/cluster`.
//!
//! The read endpoints use only what the drive loop publishes (a
//! [`NodeStatus`] on a watch channel) and the shared [`Metrics`], so a slow
//! scraper never touches the replica. The membership API hands requests to
//! the drive loop, which asks the core; only the leader takes them, and a
//! follower answers 421 naming the leader it knows:
//!
//! | request | does |
//! |---|---|
//! | `GET /cluster` | the cluster id, the initial voters, the configuration in force and the members' peer addresses (what `synod server --join` needs) |
//! | `POST /cluster/members` `{"id": 4, "peer": "host:port"}` | adds node 4 as a learner |
//! | `POST /cluster/members/4/promote` | makes learner 4 a voter (once caught up) |
//! | `DELETE /cluster/members/4` | removes node 4 |
//! | `POST /cluster/leader` `{"to": 2}` | hands leadership to voter 2 |
//!
//! A change answers 200 with the configuration proposed once the leader
//! took it; it is in force when `/status` shows it (see
//! docs/membership.md).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use synod_paxos::{ChangeError, ConfigurationChange, NodeId, TransferError};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, watch};

use crate::drive::{AdminRefusal, AdminRequest, ClientRequest, ConfigurationStatus, NodeStatus};
use crate::metrics::Metrics;

/// What the handlers read.
#[derive(Clone)]
pub struct AdminState {
    /// The drive loop's latest status.
    pub status: watch::Receiver<NodeStatus>,
    /// The node's counters.
    pub metrics: Arc<Metrics>,
    /// The drive loop's inbox, for membership requests.
    pub requests: mpsc::Sender<ClientRequest>,
    /// What `GET /cluster` tells a joining node besides the status.
    pub cluster: ClusterIdentity,
}

/// The facts of a node that never change while it runs.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClusterIdentity {
    /// The cluster.
    pub cluster_id: u64,
    /// The voters the cluster's log started with.
    pub initial_voters: Vec<u64>,
    /// This node.
    pub id: u64,
    /// This node's peer address.
    pub peer_address: String,
}

/// The answer of `GET /cluster`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ClusterView {
    /// The cluster.
    pub cluster_id: u64,
    /// The voters the cluster's log started with.
    pub initial_voters: Vec<u64>,
    /// The node that answered.
    pub id: u64,
    /// The leader it knows of.
    pub leader: Option<u64>,
    /// The configuration in force there.
    pub configuration: ConfigurationStatus,
    /// A decided configuration that governs only later slots, if any.
    pub configuration_next: Option<ConfigurationStatus>,
    /// The peer address of every node it knows one for, itself included.
    pub peer_addresses: std::collections::BTreeMap<u64, String>,
}

/// The body of `POST /cluster/members`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AddMember {
    id: u64,
    peer: String,
}

/// The body of `POST /cluster/leader`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TransferTo {
    to: u64,
}

/// The answer to a membership request.
#[derive(Debug, Serialize)]
struct MembershipAnswer {
    ok: bool,
    /// What was refused and why.
    error: Option<String>,
    /// The leader this node knows of, when it is not the leader.
    leader: Option<u64>,
    /// The configuration proposed, for a change.
    configuration: Option<ConfigurationStatus>,
}

/// The router of the admin endpoint.
pub fn router(state: AdminState) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/status", get(status))
        .route("/metrics", get(metrics))
        .route("/cluster", get(cluster))
        .route("/cluster/members", post(add_member))
        .route("/cluster/members/{id}/promote", post(promote_member))
        .route("/cluster/members/{id}", delete(remove_member))
        .route("/cluster/leader", post(transfer_leader))
        .with_state(state)
}

async fn cluster(State(state): State<AdminState>) -> Json<ClusterView> {
    let status = state.status.borrow().clone();
    let mut peer_addresses = status.peer_addresses.clone();
    peer_addresses.insert(state.cluster.id, state.cluster.peer_address.clone());
    Json(ClusterView {
        cluster_id: state.cluster.cluster_id,
        initial_voters: state.cluster.initial_voters.clone(),
        id: status.id,
        leader: status.leader,
        configuration: status.configuration,
        configuration_next: status.configuration_next,
        peer_addresses,
    })
}

async fn add_member(State(state): State<AdminState>, Json(body): Json<AddMember>) -> Response {
    if body.id == 0 {
        return refused(
            StatusCode::BAD_REQUEST,
            "node id 0 is reserved; number nodes from 1".into(),
            None,
        );
    }
    if !body.peer.contains(':') {
        return refused(
            StatusCode::BAD_REQUEST,
            format!("peer address {:?} is not HOST:PORT", body.peer),
            None,
        );
    }
    let change = ConfigurationChange::AddLearner {
        node: NodeId(body.id),
        address: body.peer,
    };
    ask(&state, AdminRequest::Change(change)).await
}

async fn promote_member(State(state): State<AdminState>, Path(id): Path<u64>) -> Response {
    let change = ConfigurationChange::Promote(NodeId(id));
    ask(&state, AdminRequest::Change(change)).await
}

async fn remove_member(State(state): State<AdminState>, Path(id): Path<u64>) -> Response {
    let change = ConfigurationChange::Remove(NodeId(id));
    ask(&state, AdminRequest::Change(change)).await
}

async fn transfer_leader(
    State(state): State<AdminState>,
    Json(body): Json<TransferTo>,
) -> Response {
    ask(&state, AdminRequest::TransferLeadership(NodeId(body.to))).await
}

/// Hands `request` to the drive loop and turns its answer into HTTP: 200
/// when taken, 421 off the leader (naming it), 409 when the cluster's state
/// forbids it now (retry later), 400 when it can never work, 503 when the
/// node is stopping.
async fn ask(state: &AdminState, request: AdminRequest) -> Response {
    let (reply, answer) = oneshot::channel();
    let stopping = || {
        refused(
            StatusCode::SERVICE_UNAVAILABLE,
            "the node is stopping".into(),
            None,
        )
    };
    if state
        .requests
        .send(ClientRequest::Admin { request, reply })
        .await
        .is_err()
    {
        return stopping();
    }
    let Ok(outcome) = answer.await else {
        return stopping();
    };
    match outcome {
        Ok(configuration) => {
            let status = state.status.borrow().clone();
            let configuration = configuration.map(|config| {
                let start = status
                    .configuration_next
                    .as_ref()
                    .map_or(status.configuration.start_slot, |next| next.start_slot);
                ConfigurationStatus::of(synod_paxos::Slot(start), &config)
            });
            let answer = MembershipAnswer {
                ok: true,
                error: None,
                leader: status.leader,
                configuration,
            };
            (StatusCode::OK, Json(answer)).into_response()
        }
        Err(refusal) => {
            let code = match &refusal {
                AdminRefusal::Change(ChangeError::NotLeader { .. })
                | AdminRefusal::Transfer(TransferError::NotLeader { .. }) => {
                    StatusCode::MISDIRECTED_REQUEST
                }
                AdminRefusal::Change(
                    ChangeError::ChangePending | ChangeError::LearnerBehind { .. },
                )
                | AdminRefusal::Transfer(TransferError::TargetBehind { .. }) => {
                    StatusCode::CONFLICT
                }
                _ => StatusCode::BAD_REQUEST,
            };
            let leader = refusal.leader().flatten().map(|leader| leader.0);
            refused(code, refusal.to_string(), leader)
        }
    }
}

fn refused(code: StatusCode, error: String, leader: Option<u64>) -> Response {
    let answer = MembershipAnswer {
        ok: false,
        error: Some(error),
        leader,
        configuration: None,
    };
    (code, Json(answer)).into_response()
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
