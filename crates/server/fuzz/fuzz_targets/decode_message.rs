//! Feeds arbitrary bytes to the peer wire decoders. Each must return, never
//! panic; a message that decodes must encode back to the same bytes (one
//! message, one encoding), and a byte stream cut into frames must decode
//! frame by frame without panicking.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use synod_server::wire::{
    decode_hello, decode_hello_reply, decode_message, encode_message, take_frame,
};

fuzz_target!(|data: &[u8]| {
    let payload = Bytes::copy_from_slice(data);
    if let Ok(message) = decode_message(payload.clone()) {
        assert_eq!(encode_message(&message), payload, "one message, one encoding");
    }
    let _ = decode_hello(data);
    let _ = decode_hello_reply(data);
    let mut stream = BytesMut::from(data);
    while let Ok(Some(frame)) = take_frame(&mut stream) {
        let _ = decode_message(frame);
    }
});
