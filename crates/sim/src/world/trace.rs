//! Readable one-line descriptions of peer messages, for traces.

use synod_paxos::{Envelope, Message};

/// `from -> to kind details`, with the fields that matter for following a
/// trace (ballots, slots, commit indexes), not the payloads.
pub(super) fn describe(envelope: &Envelope) -> String {
    let detail = match &envelope.message {
        Message::Prepare {
            ballot,
            first_undecided,
        } => {
            format!("prepare {ballot} from {first_undecided}")
        }
        Message::Promise {
            ballot,
            committed,
            entries,
        } => format!(
            "promise {ballot} committed {} with {} entries",
            committed.0,
            entries.len()
        ),
        Message::Accept {
            ballot,
            committed,
            proposals,
        } => format!(
            "accept {ballot} committed {} slots {:?}",
            committed.0,
            proposals
                .iter()
                .map(|proposal| proposal.slot.0)
                .collect::<Vec<_>>()
        ),
        Message::Accepted { ballot, slots } => format!(
            "accepted {ballot} slots {:?}",
            slots.iter().map(|slot| slot.0).collect::<Vec<_>>()
        ),
        Message::Heartbeat {
            ballot,
            committed,
            round,
        } => {
            format!(
                "heartbeat {ballot} committed {} round {}",
                committed.0, round.0
            )
        }
        Message::HeartbeatAck {
            ballot,
            round,
            committed,
        } => {
            format!(
                "heartbeat-ack {ballot} round {} committed {}",
                round.0, committed.0
            )
        }
        Message::Reject { rejected, promised } => format!("reject {rejected} promised {promised}"),
        Message::Forward { commands } => format!("forward {} commands", commands.len()),
        Message::ForwardRejected { commands, reason } => {
            format!("forward-rejected {} commands {reason:?}", commands.len())
        }
        Message::ReadIndexRequest { request, reads } => {
            format!("read-index-request {} for {reads} reads", request.0)
        }
        Message::ReadIndexReply {
            request,
            read_index,
            ..
        } => {
            format!("read-index-reply {} index {}", request.0, read_index.0)
        }
        Message::ReadIndexRejected { request, reason } => {
            format!("read-index-rejected {} {reason:?}", request.0)
        }
        Message::CatchUpRequest { from } => format!("catch-up-request from {}", from.0),
        Message::CatchUp { entries, committed } => {
            format!(
                "catch-up {} entries committed {}",
                entries.len(),
                committed.0
            )
        }
        Message::InstallSnapshot {
            snapshot,
            committed,
        } => format!(
            "install-snapshot up to {} committed {}",
            snapshot.end.0, committed.0
        ),
    };
    format!("{} -> {} {detail}", envelope.from, envelope.to)
}
