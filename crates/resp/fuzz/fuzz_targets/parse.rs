//! Feeds arbitrary bytes to the frame parser, whole and in chunks, and every
//! frame it yields to the request parser and the reply mapping.
//!
//! Checks: nothing panics; parsing in chunks (of a size taken from the first
//! input byte) yields the same frames and the same error as parsing the
//! whole buffer; every request that parses maps to a command that encodes
//! (its kv limits were checked), and survives its own encoding.

#![no_main]

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use synod_kv::Response;
use synod_resp::{parse_frame, reply, Frame, ProtocolError, Request};

/// Parses `chunks` fed one after the other, stopping at the first error.
fn feed<'a>(chunks: impl Iterator<Item = &'a [u8]>) -> (Vec<Frame>, Option<ProtocolError>) {
    let mut buffer = BytesMut::new();
    let mut frames = Vec::new();
    for chunk in chunks {
        buffer.extend_from_slice(chunk);
        loop {
            match parse_frame(&mut buffer) {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => break,
                Err(error) => return (frames, Some(error)),
            }
        }
    }
    (frames, None)
}

fuzz_target!(|data: &[u8]| {
    let Some((&chunk_size, input)) = data.split_first() else {
        return;
    };
    let whole = feed(std::iter::once(input));
    let chunked = feed(input.chunks(usize::from(chunk_size).max(1)));
    assert_eq!(whole, chunked);

    for frame in whole.0 {
        let Ok(request) = Request::parse(frame) else {
            continue;
        };
        if let Some(command) = request.to_command() {
            let _ = command.encode();
            let _ = reply::reply_for(&Response::InvalidCommand, &request);
        } else {
            let _ = reply::local_reply(&request);
        }
        assert_eq!(Request::parse(request.to_frame()), Ok(request));
    }
});
