//! argon2's working memory (19 MiB at the default cost), kept between hashes.
//!
//! Allocating it per hash cost more than time: once glibc has seen a block
//! that size freed, it serves the next from its heaps instead of a fresh
//! mapping, zeroes it on every hash (7 % of a login's CPU) and, across the
//! blocking threads that hash, keeps each heap's copy resident. A login
//! storm grew the server past 1.3 GB that way. A pool of at most one block
//! per concurrent hash bounds that to `max_concurrent` blocks, and argon2
//! overwrites every block it uses, so nothing needs zeroing between uses.

use std::sync::{Mutex, MutexGuard};

use argon2::Block;

/// Blocks for hashes at one cost, at most `max_kept` of them kept.
#[derive(Debug)]
pub(crate) struct BlockPool {
    blocks_per_hash: usize,
    max_kept: usize,
    kept: Mutex<Vec<Vec<Block>>>,
}

impl BlockPool {
    /// A pool handing out `blocks_per_hash` blocks (the cost's KiB), keeping
    /// at most `max_kept` sets between hashes.
    pub(crate) fn new(blocks_per_hash: usize, max_kept: usize) -> Self {
        Self {
            blocks_per_hash,
            max_kept,
            kept: Mutex::new(Vec::new()),
        }
    }

    fn kept(&self) -> MutexGuard<'_, Vec<Vec<Block>>> {
        // Push and pop only: a poisoned pool is still a valid list.
        self.kept.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `work` with a set of blocks, reused when one is free.
    pub(crate) fn with<T>(&self, work: impl FnOnce(&mut [Block]) -> T) -> T {
        let taken = self.kept().pop();
        let mut memory = taken.unwrap_or_else(|| vec![Block::default(); self.blocks_per_hash]);
        let result = work(&mut memory);
        let mut kept = self.kept();
        if kept.len() < self.max_kept {
            kept.push(memory);
        }
        result
    }

    /// How many sets are kept now.
    #[cfg(test)]
    pub(crate) fn kept_sets(&self) -> usize {
        self.kept().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_set_is_reused_and_the_pool_keeps_at_most_max_kept() {
        let pool = BlockPool::new(8, 1);
        let first = pool.with(|memory| memory.as_ptr() as usize);
        let second = pool.with(|memory| memory.as_ptr() as usize);
        assert_eq!(first, second, "the kept set is handed out again");
        pool.with(|_| pool.with(|memory| assert_eq!(memory.len(), 8)));
        assert_eq!(pool.kept_sets(), 1);
    }
}
