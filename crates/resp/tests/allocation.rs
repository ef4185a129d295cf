//! The parser allocates within its limits, whatever lengths a peer
//! declares. A counting allocator (this test binary's own) measures every
//! byte that `parse_frame` allocates on the calling thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use bytes::BytesMut;
use proptest::collection::vec;
use proptest::prelude::*;
use synod_resp::limits::ARRAY_ELEMENTS_MAX;
use synod_resp::{parse_frame, Frame, ProtocolError};

struct CountingAllocator;

thread_local! {
    static ALLOCATED_BYTES: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// counter is a const-initialised thread-local without a destructor, so
// touching it never allocates or re-enters the allocator.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATED_BYTES.with(|count| count.set(count.get() + layout.size()));
        // SAFETY: the caller's contract is passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, pointer: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract is passed on as is.
        unsafe { System.dealloc(pointer, layout) }
    }

    unsafe fn realloc(&self, pointer: *mut u8, layout: Layout, size: usize) -> *mut u8 {
        ALLOCATED_BYTES.with(|count| count.set(count.get() + size));
        // SAFETY: the caller's contract is passed on as is.
        unsafe { System.realloc(pointer, layout, size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// Room for the small shared header that splitting a buffer off creates.
const BOOKKEEPING_MAX_BYTES: usize = 256;

/// The most one call may allocate for a buffer of `input_size_bytes`: one
/// frame per element present in the input (every element takes at least
/// two bytes, an inline word and its separator) and never more than
/// [`ARRAY_ELEMENTS_MAX`], plus copies of simple strings and errors, which
/// are part of the input. Bulk strings are slices of the input, not copies.
/// So what a peer declares costs nothing; only what it sends does.
fn allocation_bound_bytes(input_size_bytes: usize) -> usize {
    let frames = (input_size_bytes / 2 + 1).min(ARRAY_ELEMENTS_MAX + 1);
    frames * std::mem::size_of::<Frame>() + input_size_bytes + BOOKKEEPING_MAX_BYTES
}

/// Parses every frame in `input`, returning the most bytes any single call
/// allocated and the outcome of the last call.
fn parse_measured(input: &[u8]) -> (usize, Result<Option<Frame>, ProtocolError>) {
    let mut buffer = BytesMut::from(input);
    let mut allocated_max_bytes = 0;
    loop {
        ALLOCATED_BYTES.with(|count| count.set(0));
        let result = parse_frame(&mut buffer);
        let allocated_bytes = ALLOCATED_BYTES.with(Cell::get);
        allocated_max_bytes = allocated_max_bytes.max(allocated_bytes);
        if !matches!(result, Ok(Some(_))) {
            return (allocated_max_bytes, result);
        }
    }
}

#[test]
fn a_declared_length_of_a_terabyte_allocates_nothing() {
    let (allocated_bytes, result) = parse_measured(b"$1099511627776\r\n");
    assert!(matches!(result, Err(ProtocolError::BulkTooLarge { .. })));
    assert_eq!(allocated_bytes, 0);
}

#[test]
fn an_array_header_allocates_nothing_until_its_elements_arrive() {
    let header = format!("*{ARRAY_ELEMENTS_MAX}\r\n");
    let (allocated_bytes, result) = parse_measured(header.as_bytes());
    assert_eq!(result, Ok(None));
    assert_eq!(allocated_bytes, 0);
}

#[test]
fn the_largest_array_allocates_its_frames_once() {
    let mut input = format!("*{ARRAY_ELEMENTS_MAX}\r\n").into_bytes();
    input.extend(b"$1\r\nk\r\n".repeat(ARRAY_ELEMENTS_MAX));
    let (allocated_bytes, result) = parse_measured(&input);
    assert_eq!(
        result,
        Ok(None),
        "the one frame was parsed, then nothing is left"
    );
    assert!(allocated_bytes <= allocation_bound_bytes(input.len()));
    assert!(allocated_bytes >= ARRAY_ELEMENTS_MAX * std::mem::size_of::<Frame>());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn arbitrary_headers_allocate_within_the_bound(
        lengths in vec((prop_oneof![Just(b'$'), Just(b'*'), Just(b'+'), Just(b':')], any::<i64>()), 1..8),
        tail in vec(any::<u8>(), 0..64),
    ) {
        let mut input = Vec::new();
        for (type_byte, length) in lengths {
            input.push(type_byte);
            input.extend(length.to_string().as_bytes());
            input.extend(b"\r\n");
        }
        input.extend(tail);
        let (allocated_bytes, _) = parse_measured(&input);
        prop_assert!(allocated_bytes <= allocation_bound_bytes(input.len()));
    }

    #[test]
    fn arbitrary_bytes_allocate_within_the_bound(input in vec(any::<u8>(), 0..256)) {
        let (allocated_bytes, _) = parse_measured(&input);
        prop_assert!(allocated_bytes <= allocation_bound_bytes(input.len()));
    }
}
