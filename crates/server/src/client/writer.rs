//! A client connection's writer: answers in request order, and the
//! output-buffer limit ([`super::CLIENT_OUTPUT_BUFFER_MAX_BYTES`]).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use bytes::{Buf, BytesMut};
use synod_resp::{encode_for, Frame, Protocol, Request};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot};
use tracing::warn;

use super::{
    answer_frame, InFlight, Outstanding, Owed, Pending, WriterStopped, WRITE_BATCH_SIZE_MAX_BYTES,
};
use crate::drive::RequestResult;
use crate::metrics::Metrics;

/// Answers in request order. Whatever is ready is encoded and written in
/// one go (up to [`WRITE_BATCH_SIZE_MAX_BYTES`] per write); while the
/// socket accepts nothing, answers still arrive and are encoded, so that a
/// client that does not read its replies is found by the bytes waiting for
/// it ([`CLIENT_OUTPUT_BUFFER_MAX_BYTES`]) and disconnected.
pub(super) async fn write_answers<W: AsyncWrite + Unpin>(
    mut writer: W,
    mut pending: mpsc::Receiver<Owed>,
    outstanding: Arc<Outstanding>,
    metrics: Arc<Metrics>,
    remote: SocketAddr,
    output_buffer_max_bytes: usize,
) {
    let _stopped = WriterStopped(outstanding.clone());
    let mut output = Output::default();
    // The answer owed next, when the drive loop has not given it yet.
    let mut waiting: Option<Awaited> = None;
    // Nothing more will be owed: write what is, then close.
    let mut closing = false;
    loop {
        // Everything ready now, without waiting.
        while output.bytes.len() < WRITE_BATCH_SIZE_MAX_BYTES && !closing {
            if let Some(awaited) = &mut waiting {
                match awaited.answer.try_recv() {
                    Ok(result) => {
                        output.answer(waiting.take(), Some(result), &outstanding, &metrics)
                    }
                    Err(oneshot::error::TryRecvError::Empty) => break,
                    Err(oneshot::error::TryRecvError::Closed) => {
                        output.answer(waiting.take(), None, &outstanding, &metrics);
                    }
                }
                continue;
            }
            match pending.try_recv() {
                Ok(owed) => closing = output.take(owed, &mut waiting),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => closing = true,
            }
        }
        if output.is_over(output_buffer_max_bytes) {
            metrics.client_output_buffer_closes.increment();
            warn!(
                %remote,
                waiting_bytes = output.bytes.len(),
                "closing a client connection that does not read its replies"
            );
            return;
        }
        if output.bytes.is_empty() && waiting.is_none() && closing {
            let _ = writer.shutdown().await;
            return;
        }
        let step = tokio::select! {
            biased;
            written = writer.write(&output.bytes), if !output.bytes.is_empty() => {
                Step::Wrote(written)
            }
            result = async {
                match &mut waiting {
                    Some(awaited) => (&mut awaited.answer).await.ok(),
                    None => std::future::pending().await,
                }
            }, if waiting.is_some() => Step::Answered(result),
            owed = pending.recv(), if waiting.is_none() && !closing => Step::Owed(owed),
            else => unreachable!("a writer with nothing to write, await or take has closed"),
        };
        match step {
            Step::Wrote(Ok(0) | Err(_)) => return,
            Step::Wrote(Ok(written)) => output.written(written),
            Step::Answered(result) => output.answer(waiting.take(), result, &outstanding, &metrics),
            Step::Owed(Some(owed)) => closing = output.take(owed, &mut waiting),
            Step::Owed(None) => closing = true,
        }
    }
}

/// What woke the writer.
enum Step {
    Wrote(std::io::Result<usize>),
    Answered(Option<RequestResult>),
    Owed(Option<Owed>),
}

/// An answer the writer waits for, with what it needs to encode it.
struct Awaited {
    answer: oneshot::Receiver<RequestResult>,
    kind: InFlight,
    shape: Request,
    started: Instant,
    protocol: Protocol,
}

/// Reply bytes encoded and not yet written.
#[derive(Default)]
struct Output {
    bytes: BytesMut,
    /// Where the last reply encoded starts: the limit spares one reply.
    last_reply_start: usize,
}

impl Output {
    /// Encodes `owed` if it is known, or makes it the answer awaited.
    /// Returns true when it closes the connection.
    fn take(&mut self, (owed, protocol): Owed, waiting: &mut Option<Awaited>) -> bool {
        match owed {
            Pending::Ready(frame) => {
                self.encode(&frame, protocol);
                false
            }
            Pending::Waiting {
                answer,
                kind,
                shape,
                started,
            } => {
                assert!(waiting.is_none(), "answers are awaited one at a time");
                *waiting = Some(Awaited {
                    answer,
                    kind,
                    shape,
                    started,
                    protocol,
                });
                false
            }
            Pending::Close => true,
        }
    }

    /// Encodes the answer the writer awaited.
    fn answer(
        &mut self,
        awaited: Option<Awaited>,
        result: Option<RequestResult>,
        outstanding: &Outstanding,
        metrics: &Metrics,
    ) {
        let awaited = awaited.expect("an answer was awaited");
        outstanding.answered(awaited.kind);
        metrics.record_request_latency(awaited.shape.name(), awaited.started.elapsed());
        self.encode(&answer_frame(result, &awaited.shape), awaited.protocol);
    }

    fn encode(&mut self, frame: &Frame, protocol: Protocol) {
        self.last_reply_start = self.bytes.len();
        encode_for(frame, protocol, &mut self.bytes);
    }

    fn written(&mut self, written: usize) {
        self.bytes.advance(written);
        self.last_reply_start = self.last_reply_start.saturating_sub(written);
        if self.bytes.is_empty() && self.bytes.capacity() > WRITE_BATCH_SIZE_MAX_BYTES {
            self.bytes = BytesMut::new();
        }
    }

    /// More than `limit_bytes` wait to be written, besides the last reply.
    fn is_over(&self, limit_bytes: usize) -> bool {
        self.last_reply_start > limit_bytes
    }
}
