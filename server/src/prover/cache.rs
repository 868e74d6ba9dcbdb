//! The prover's caches (the `lru` crate): model proposals, token scores, deep reviews and Lean
//! verdicts, keyed by a hash of everything that determines them — the model and its prompt
//! family, the prompt (which holds the file context), the text judged and the parameters.

use super::lean::DeclarationVerdict;
use super::limits::{LEAN_CACHE_ENTRIES, PROPOSAL_CACHE_ENTRIES, SCORE_CACHE_ENTRIES};
use super::model::TokenLogprob;
use super::outcome::ReviewSummary;
use lru::LruCache;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

/// A cache key: a hash of the parts, in order. `DefaultHasher::new()` has fixed keys, so keys
/// are stable within a process (nothing is cached across processes).
pub fn cache_key(parts: &[&dyn HashPart]) -> u64 {
    let mut hasher = DefaultHasher::new();
    for part in parts {
        part.hash_part(&mut hasher);
    }
    hasher.finish()
}

/// Something that can be part of a cache key (floats by their bits).
pub trait HashPart {
    fn hash_part(&self, hasher: &mut DefaultHasher);
}

impl HashPart for str {
    fn hash_part(&self, hasher: &mut DefaultHasher) {
        self.hash(hasher);
    }
}

impl HashPart for &str {
    fn hash_part(&self, hasher: &mut DefaultHasher) {
        self.hash(hasher);
    }
}

impl HashPart for String {
    fn hash_part(&self, hasher: &mut DefaultHasher) {
        self.hash(hasher);
    }
}

impl HashPart for usize {
    fn hash_part(&self, hasher: &mut DefaultHasher) {
        self.hash(hasher);
    }
}

impl HashPart for u64 {
    fn hash_part(&self, hasher: &mut DefaultHasher) {
        self.hash(hasher);
    }
}

impl HashPart for f32 {
    fn hash_part(&self, hasher: &mut DefaultHasher) {
        self.to_bits().hash(hasher);
    }
}

impl HashPart for Option<usize> {
    fn hash_part(&self, hasher: &mut DefaultHasher) {
        self.hash(hasher);
    }
}

/// One bounded map from key to shared value.
pub struct BoundedCache<V> {
    entries: Mutex<LruCache<u64, Arc<V>>>,
}

impl<V> BoundedCache<V> {
    pub fn new(capacity: usize) -> Self {
        BoundedCache {
            entries: Mutex::new(LruCache::new(
                NonZeroUsize::new(capacity).unwrap_or(NonZeroUsize::MIN),
            )),
        }
    }

    pub fn get(&self, key: u64) -> Option<Arc<V>> {
        self.lock().get(&key).cloned()
    }

    pub fn put(&self, key: u64, value: V) -> Arc<V> {
        let value = Arc::new(value);
        self.lock().put(key, value.clone());
        value
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LruCache<u64, Arc<V>>> {
        // Entries are whole values written in one call; a panic elsewhere cannot leave one
        // half-written, so a poisoned lock is still sound.
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Every cache of one prover.
pub struct ProverCaches {
    /// Raw sample texts of one generation request, by sample index.
    pub proposals: BoundedCache<Vec<String>>,
    pub token_scores: BoundedCache<Vec<TokenLogprob>>,
    pub reviews: BoundedCache<ReviewSummary>,
    pub lean: BoundedCache<DeclarationVerdict>,
}

impl Default for ProverCaches {
    fn default() -> Self {
        ProverCaches {
            proposals: BoundedCache::new(PROPOSAL_CACHE_ENTRIES),
            token_scores: BoundedCache::new(SCORE_CACHE_ENTRIES),
            reviews: BoundedCache::new(SCORE_CACHE_ENTRIES),
            lean: BoundedCache::new(LEAN_CACHE_ENTRIES),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_depend_on_every_part_and_evictions_follow_use() {
        let base = cache_key(&[&"model", &"prompt", &4usize, &0.8f32]);
        assert_eq!(base, cache_key(&[&"model", &"prompt", &4usize, &0.8f32]));
        assert_ne!(base, cache_key(&[&"model", &"prompt", &4usize, &0.7f32]));
        assert_ne!(base, cache_key(&[&"model", &"prompt!", &4usize, &0.8f32]));
        let cache = BoundedCache::new(2);
        cache.put(1, "one");
        cache.put(2, "two");
        assert!(cache.get(1).is_some());
        cache.put(3, "three");
        assert!(
            cache.get(2).is_none(),
            "the least recently used entry goes first"
        );
        assert_eq!(cache.len(), 2);
    }
}
