//! Bookkeeping of a paged KV cache: a pool of fixed-size blocks with reference counts, and one
//! block table per sequence mapping its positions to cache slots. N samples of one prompt share
//! the prompt's blocks; a shared block that is only partly filled is copied before a sample
//! writes into it (copy-on-write), so samples never see each other's positions.
//!
//! Nothing here touches a device: the CUDA backend stores the blocks and executes the copies
//! this module asks for.

/// A cache slot: `block · block_size + offset in block`.
pub type Slot = u32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PagedError {
    #[error(
        "the KV cache is full: {needed} more blocks of {block_size} positions are needed but \
         {free} are free; ask for fewer samples or fewer new tokens"
    )]
    OutOfBlocks {
        needed: usize,
        free: usize,
        block_size: usize,
    },
    #[error("a KV cache of {n_blocks} blocks of {block_size} positions has more slots than 2^32")]
    TooLarge { n_blocks: usize, block_size: usize },
}

/// A block to copy before its destination is written: the copy-on-write of a shared block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockCopy {
    pub source: u32,
    pub destination: u32,
}

/// Which blocks are free and how many tables hold each of the others.
#[derive(Debug, Clone)]
pub struct BlockPool {
    block_size: usize,
    reserved: usize,
    ref_counts: Vec<u32>,
    free: Vec<u32>,
}

impl BlockPool {
    /// A pool of `n_blocks` blocks; the first `reserved` are never handed out (a caller may use
    /// them as scratch space).
    pub fn new(n_blocks: usize, block_size: usize, reserved: usize) -> Result<Self, PagedError> {
        if (n_blocks as u64) * (block_size as u64) > u64::from(u32::MAX) {
            return Err(PagedError::TooLarge {
                n_blocks,
                block_size,
            });
        }
        let mut pool = BlockPool {
            block_size,
            reserved: reserved.min(n_blocks),
            ref_counts: vec![0; n_blocks],
            free: Vec::new(),
        };
        pool.reset();
        Ok(pool)
    }

    /// Frees every block at once (every table made from this pool becomes invalid).
    pub fn reset(&mut self) {
        self.ref_counts.fill(0);
        // Handed out lowest first, which keeps a small request's blocks together.
        self.free = (self.reserved as u32..self.ref_counts.len() as u32)
            .rev()
            .collect();
    }

    pub fn block_size(&self) -> usize {
        self.block_size
    }

    pub fn n_blocks(&self) -> usize {
        self.ref_counts.len()
    }

    pub fn free_blocks(&self) -> usize {
        self.free.len()
    }

    /// How many tables hold `block`.
    pub fn ref_count(&self, block: u32) -> u32 {
        self.ref_counts[block as usize]
    }

    fn allocate(&mut self) -> u32 {
        let block = self.free.pop().expect("callers check free_blocks first");
        self.ref_counts[block as usize] = 1;
        block
    }

    fn retain(&mut self, block: u32) {
        self.ref_counts[block as usize] += 1;
    }

    fn release(&mut self, block: u32) {
        let count = &mut self.ref_counts[block as usize];
        *count -= 1;
        if *count == 0 {
            self.free.push(block);
        }
    }
}

/// The blocks of one sequence, in position order, and how many positions they hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BlockTable {
    blocks: Vec<u32>,
    len: usize,
}

impl BlockTable {
    pub fn new() -> Self {
        BlockTable::default()
    }

    /// Positions stored.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn blocks(&self) -> &[u32] {
        &self.blocks
    }

    /// Blocks an append of `n_new` positions takes from the pool, copy-on-write included.
    pub fn blocks_needed(&self, pool: &BlockPool, n_new: usize) -> usize {
        if n_new == 0 {
            return 0;
        }
        let block_size = pool.block_size;
        let copy = usize::from(self.last_block_is_shared_and_partial(pool));
        (self.len + n_new).div_ceil(block_size) - self.blocks.len() + copy
    }

    fn last_block_is_shared_and_partial(&self, pool: &BlockPool) -> bool {
        !self.len.is_multiple_of(pool.block_size)
            && self
                .blocks
                .last()
                .is_some_and(|&block| pool.ref_count(block) > 1)
    }

    /// Makes room for `n_new` positions and returns their slots. A shared, partly filled last
    /// block is first replaced by a private copy, recorded in `copies` for the device to make.
    /// On error nothing changes.
    pub fn append(
        &mut self,
        pool: &mut BlockPool,
        n_new: usize,
        copies: &mut Vec<BlockCopy>,
    ) -> Result<Vec<Slot>, PagedError> {
        let needed = self.blocks_needed(pool, n_new);
        if needed > pool.free_blocks() {
            return Err(PagedError::OutOfBlocks {
                needed,
                free: pool.free_blocks(),
                block_size: pool.block_size,
            });
        }
        if n_new == 0 {
            return Ok(Vec::new());
        }
        if self.last_block_is_shared_and_partial(pool) {
            let shared = *self.blocks.last().expect("checked non-empty");
            let private = pool.allocate();
            copies.push(BlockCopy {
                source: shared,
                destination: private,
            });
            pool.release(shared);
            *self.blocks.last_mut().expect("checked non-empty") = private;
        }
        let block_size = pool.block_size;
        while self.blocks.len() * block_size < self.len + n_new {
            let block = pool.allocate();
            self.blocks.push(block);
        }
        let slots = (self.len..self.len + n_new)
            .map(|position| {
                self.blocks[position / block_size] * block_size as u32
                    + (position % block_size) as u32
            })
            .collect();
        self.len += n_new;
        Ok(slots)
    }

    /// A table that shares every block of this one.
    pub fn fork(&self, pool: &mut BlockPool) -> BlockTable {
        for &block in &self.blocks {
            pool.retain(block);
        }
        self.clone()
    }

    /// Returns this table's blocks to the pool and empties it.
    pub fn release(&mut self, pool: &mut BlockPool) {
        for block in self.blocks.drain(..) {
            pool.release(block);
        }
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOCK: usize = 4;

    #[test]
    fn appending_fills_blocks_in_order_and_names_each_slot() {
        let mut pool = BlockPool::new(8, BLOCK, 1).unwrap();
        let mut table = BlockTable::new();
        let mut copies = Vec::new();
        let slots = table.append(&mut pool, 6, &mut copies).unwrap();
        // Block 0 is reserved: the first blocks handed out are 1 and 2.
        assert_eq!(table.blocks(), &[1, 2]);
        assert_eq!(slots, vec![4, 5, 6, 7, 8, 9]);
        let more = table.append(&mut pool, 3, &mut copies).unwrap();
        assert_eq!(more, vec![10, 11, 12]);
        assert_eq!(table.blocks(), &[1, 2, 3]);
        assert_eq!(table.len(), 9);
        assert!(copies.is_empty());
        assert_eq!(pool.free_blocks(), 8 - 1 - 3);
    }

    #[test]
    fn forks_share_full_blocks_and_copy_a_shared_partial_block_before_writing() {
        let mut pool = BlockPool::new(16, BLOCK, 0).unwrap();
        let mut prompt = BlockTable::new();
        let mut copies = Vec::new();
        prompt.append(&mut pool, 6, &mut copies).unwrap(); // blocks 0 (full) and 1 (half)
        let mut samples: Vec<BlockTable> = (0..3).map(|_| prompt.fork(&mut pool)).collect();
        prompt.release(&mut pool);
        assert_eq!(pool.ref_count(0), 3);
        assert_eq!(pool.free_blocks(), 14, "forking allocates nothing");

        for sample in &mut samples {
            let slots = sample.append(&mut pool, 1, &mut copies).unwrap();
            let private = sample.blocks()[1];
            assert_eq!(sample.blocks()[0], 0, "the full block stays shared");
            assert_eq!(slots, vec![private * BLOCK as u32 + 2]);
        }
        // The first two samples copied the shared half block; the last one was then its only
        // holder and writes into it directly.
        assert_eq!(
            copies,
            vec![
                BlockCopy {
                    source: 1,
                    destination: 2
                },
                BlockCopy {
                    source: 1,
                    destination: 3
                },
            ]
        );
        assert_eq!(samples[2].blocks(), &[0, 1]);
        assert_eq!(pool.ref_count(1), 1);

        for sample in &mut samples {
            sample.release(&mut pool);
        }
        assert_eq!(pool.free_blocks(), 16);
    }

    #[test]
    fn running_out_of_blocks_is_an_error_that_changes_nothing() {
        let mut pool = BlockPool::new(3, BLOCK, 0).unwrap();
        let mut table = BlockTable::new();
        let mut copies = Vec::new();
        table.append(&mut pool, 5, &mut copies).unwrap();
        let before = table.clone();
        let error = table.append(&mut pool, 8, &mut copies).unwrap_err();
        assert_eq!(
            error,
            PagedError::OutOfBlocks {
                needed: 2,
                free: 1,
                block_size: BLOCK
            }
        );
        assert!(error.to_string().contains("fewer samples"));
        assert_eq!(table, before);
        assert_eq!(pool.free_blocks(), 1);
    }

    #[test]
    fn blocks_needed_counts_the_copy_on_write() {
        let mut pool = BlockPool::new(8, BLOCK, 0).unwrap();
        let mut table = BlockTable::new();
        let mut copies = Vec::new();
        table.append(&mut pool, 2, &mut copies).unwrap();
        assert_eq!(table.blocks_needed(&pool, 2), 0);
        assert_eq!(table.blocks_needed(&pool, 3), 1);
        let fork = table.fork(&mut pool);
        assert_eq!(
            table.blocks_needed(&pool, 1),
            1,
            "the shared half block is copied"
        );
        assert_eq!(fork.blocks_needed(&pool, 0), 0);
    }

    #[test]
    fn reset_frees_everything_and_pools_past_u32_slots_are_refused() {
        let mut pool = BlockPool::new(4, BLOCK, 1).unwrap();
        let mut table = BlockTable::new();
        table.append(&mut pool, 12, &mut Vec::new()).unwrap();
        assert_eq!(pool.free_blocks(), 0);
        pool.reset();
        assert_eq!(pool.free_blocks(), 3);
        assert!(matches!(
            BlockPool::new(1 << 30, 16, 0),
            Err(PagedError::TooLarge { .. })
        ));
    }
}
