//! Sharing work out over a few threads, in order.
//!
//! Signature checks, parallel execution and the driver's signing all do the same thing:
//! cut a slice into one chunk per thread, work on the chunks at once, and put the
//! results back in the slice's order. Scoped threads borrow the slice directly, so no
//! copying and no `'static` bounds.

/// Runs `f` over `threads` near-equal chunks of `items` in parallel, concatenating the
/// results in order.
pub fn in_chunks<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&[T], usize) -> Vec<R> + Sync,
) -> Vec<R> {
    let size = items.len().div_ceil(threads.max(1)).max(1);
    if items.len() <= size {
        return f(items, 0);
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(size)
            .enumerate()
            .map(|(i, chunk)| {
                let f = &f;
                scope.spawn(move || f(chunk, i * size))
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}
