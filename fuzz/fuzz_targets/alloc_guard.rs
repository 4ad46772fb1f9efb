//! Not a parser: proof that the allocation check is live. Given an input
//! starting with `A` it allocates 3 MiB at once, which libFuzzer must stop
//! with "out-of-memory (malloc(...))" under `-malloc_limit_mb=2`.
//! `scripts/fuzz` runs it on that one input and fails if it is not stopped.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.first() == Some(&b'A') {
        std::hint::black_box(vec![1u8; 3 << 20]);
    }
});
