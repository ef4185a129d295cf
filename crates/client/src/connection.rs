//! One TCP connection to a node, speaking one request and one reply at a
//! time.

use std::io;

use bytes::BytesMut;
use synod_resp::{encode, parse_frame, Frame, ProtocolError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::options::Endpoint;

/// How much room to make in the read buffer before each read. Replies are
/// small except values, which arrive over several reads; the parser bounds
/// the whole buffer (see [`synod_resp::limits::REQUEST_SIZE_MAX_BYTES`]).
const READ_RESERVE_SIZE_BYTES: usize = 16 * 1024;

/// Why a round trip on an open connection produced no reply. The request
/// may have reached the node in every case.
#[derive(Debug)]
pub(crate) enum CallError {
    /// Writing or reading failed.
    Io(io::Error),
    /// The node closed the connection before replying.
    Closed,
    /// The reply is not valid RESP; the connection cannot be trusted again.
    Protocol(ProtocolError),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Io(error) => write!(formatter, "{error}"),
            CallError::Closed => formatter.write_str("connection closed before the reply"),
            CallError::Protocol(error) => write!(formatter, "invalid reply: {error}"),
        }
    }
}

/// An open connection and the bytes read from it but not parsed yet.
///
/// A connection is dropped after any failure or timeout, so a late reply to
/// an abandoned request can never be mistaken for the reply to the next.
pub(crate) struct Connection {
    stream: TcpStream,
    buffer: BytesMut,
    /// `AUTH` was answered `OK` on it (or no credentials were given).
    pub(crate) authenticated: bool,
}

impl Connection {
    pub(crate) async fn open(endpoint: &Endpoint) -> io::Result<Connection> {
        let stream = TcpStream::connect(endpoint.address()).await?;
        // Requests are small and each waits for its reply: do not let Nagle's
        // algorithm hold them back.
        stream.set_nodelay(true)?;
        Ok(Connection {
            stream,
            buffer: BytesMut::new(),
            authenticated: false,
        })
    }

    /// Sends `request` and reads one reply frame.
    pub(crate) async fn call(&mut self, request: &Frame) -> Result<Frame, CallError> {
        let mut output = BytesMut::new();
        encode(request, &mut output);
        self.stream
            .write_all(&output)
            .await
            .map_err(CallError::Io)?;
        loop {
            if let Some(reply) = parse_frame(&mut self.buffer).map_err(CallError::Protocol)? {
                return Ok(reply);
            }
            self.buffer.reserve(READ_RESERVE_SIZE_BYTES);
            let read_bytes = self
                .stream
                .read_buf(&mut self.buffer)
                .await
                .map_err(CallError::Io)?;
            if read_bytes == 0 {
                return Err(CallError::Closed);
            }
        }
    }
}
