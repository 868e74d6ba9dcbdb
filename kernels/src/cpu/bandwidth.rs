//! Memory bandwidth as a large parallel copy achieves it: the ceiling that decoding, which
//! reads every weight once per token, is measured against.

use rayon::prelude::*;
use std::time::Instant;

/// Bytes per copy chunk handed to one task.
const COPY_CHUNK_BYTES: usize = 1 << 20;

/// Copies a `buffer_bytes` buffer `repetitions` times on the current pool and returns the best
/// rate in bytes per second, counting bytes read plus bytes written (the STREAM "copy"
/// convention).
pub fn measure_copy_bandwidth(buffer_bytes: usize, repetitions: usize) -> f64 {
    let len = buffer_bytes / 8;
    let source: Vec<u64> = (0..len as u64).into_par_iter().collect();
    let mut destination = vec![1u64; len];
    // Touch the destination once so page faults are not timed.
    destination
        .par_chunks_mut(COPY_CHUNK_BYTES / 8)
        .for_each(|chunk| chunk.fill(0));
    let mut best = f64::INFINITY;
    for _ in 0..repetitions.max(1) {
        let start = Instant::now();
        destination
            .par_chunks_mut(COPY_CHUNK_BYTES / 8)
            .zip(source.par_chunks(COPY_CHUNK_BYTES / 8))
            .for_each(|(dst, src)| dst.copy_from_slice(src));
        best = best.min(start.elapsed().as_secs_f64());
    }
    std::hint::black_box(&destination);
    (2 * len * 8) as f64 / best
}
