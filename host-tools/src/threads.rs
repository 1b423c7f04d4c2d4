//! What a `threads` option means, in one place: 0 is one thread per available core, any other
//! number is that many. Results never depend on it (every parallel computation in the host
//! tools splits its work into fixed blocks and merges them in a fixed order); only speed does.

/// The cores this process may use (1 when the platform cannot tell).
pub fn available() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// The worker count a `threads` option asks for: 0 means [`available`], any other `n` is `n`.
pub fn resolve(threads: usize) -> usize {
    match threads {
        0 => available(),
        n => n,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_means_every_core_and_other_counts_are_kept() {
        assert!(available() >= 1);
        assert_eq!(resolve(0), available());
        assert_eq!(resolve(3), 3);
    }
}
