//! The reading half of a client connection: plain TCP, or TLS over it.

use std::future::Future;
use std::task::Poll;

use bytes::BytesMut;
use tokio::io::AsyncReadExt;
use tokio::net::tcp::OwnedReadHalf;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

use super::READ_CHUNK_BYTES;

/// What one read brought.
pub(super) enum Read {
    /// Bytes were appended to the buffer.
    Received,
    /// The client closed the connection.
    Closed,
    /// Nothing yet; read again.
    Again,
    /// The connection failed.
    Failed(std::io::Error),
}

/// A client connection's reading half.
pub(super) enum ReadHalf {
    /// Plain TCP.
    Tcp(OwnedReadHalf),
    /// TLS over TCP.
    Tls(tokio::io::ReadHalf<TlsStream<TcpStream>>),
}

impl ReadHalf {
    /// Appends what the client sent to `buffer`. Cancel safe: dropped
    /// before it completes, it has read nothing.
    pub(super) async fn read_into(&mut self, buffer: &mut BytesMut) -> Read {
        match self {
            ReadHalf::Tcp(reader) => read_tcp(reader, buffer).await,
            // rustls holds its own buffers for the connection's life, so
            // this path does not wait for readability before reserving.
            ReadHalf::Tls(reader) => {
                buffer.reserve(READ_CHUNK_BYTES);
                match reader.read_buf(buffer).await {
                    Ok(0) => Read::Closed,
                    Ok(_) => Read::Received,
                    Err(error) => Read::Failed(error),
                }
            }
        }
    }
}

/// Waits for readability before it reserves the buffer, so that an idle
/// connection holds none.
async fn read_tcp(reader: &mut OwnedReadHalf, buffer: &mut BytesMut) -> Read {
    if let Err(error) = reader.readable().await {
        return Read::Failed(error);
    }
    buffer.reserve(READ_CHUNK_BYTES);
    // One poll of `read_buf`, never a wait: readiness can be stale (a new
    // connection is reported readable before it has sent anything), and
    // waiting here would hold the buffer reserved above while the
    // connection idles. Unlike `try_read_buf`, a read that leaves the
    // buffer's room unfilled tells the runtime the socket is drained: no
    // second read that only finds it empty (one `recvfrom` per request
    // saved, a tenth of a leader's system calls under redis-benchmark).
    let read = {
        let mut read = std::pin::pin!(reader.read_buf(buffer));
        std::future::poll_fn(|context| Poll::Ready(read.as_mut().poll(context))).await
    };
    match read {
        Poll::Ready(Ok(0)) => Read::Closed,
        Poll::Ready(Ok(_)) => Read::Received,
        // Either the readiness was stale (the read cleared it, and
        // `readable` now waits), or the task has used up its budget of the
        // runtime: then the read is Pending while `readable`, which ignores
        // the budget, is ready at once, and going straight back to it spun
        // the node's only thread forever (nodes hung under 1,024 writes in
        // flight). Yielding lets the runtime run the other tasks and hand
        // this one a new budget.
        Poll::Pending => {
            tokio::task::yield_now().await;
            Read::Again
        }
        Poll::Ready(Err(error)) if error.kind() == std::io::ErrorKind::WouldBlock => Read::Again,
        Poll::Ready(Err(error)) => Read::Failed(error),
    }
}
