//! Choosing the next token from logits: greedy, or temperature → top-k → top-p → draw, in the
//! order transformers applies its logits warpers. Each sample draws from its own random stream
//! (seed, sample index), so a sample's tokens do not depend on how many others run beside it.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SamplingParams {
    /// 0 means greedy.
    pub temperature: f32,
    /// Keep only the `top_k` most likely tokens; 0 turns this off.
    pub top_k: usize,
    /// Keep the smallest set of tokens whose probability reaches `top_p`; 1 turns this off.
    pub top_p: f32,
    pub seed: u64,
}

impl SamplingParams {
    pub fn greedy() -> Self {
        SamplingParams {
            temperature: 0.0,
            top_k: 0,
            top_p: 1.0,
            seed: 0,
        }
    }

    pub fn is_greedy(&self) -> bool {
        self.temperature <= 0.0
    }
}

/// The random stream of one sample.
pub struct SampleRng(ChaCha8Rng);

impl SampleRng {
    pub fn new(seed: u64, sample_idx: usize) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(sample_idx as u64);
        SampleRng(rng)
    }

    /// The next uniform draw in `[0, 1)`, the one [`sample`] takes when it samples; the GPU
    /// engine draws it here and samples on the device with it.
    pub(crate) fn next_uniform(&mut self) -> f64 {
        self.0.random()
    }
}

/// The index of the largest logit (the first one on ties, like `argmax`).
pub fn argmax(logits: &[f32]) -> u32 {
    let mut best = 0;
    for (idx, &value) in logits.iter().enumerate() {
        if value > logits[best] {
            best = idx;
        }
    }
    best as u32
}

/// Picks the next token.
pub fn sample(logits: &[f32], params: &SamplingParams, rng: &mut SampleRng) -> u32 {
    if params.is_greedy() {
        return argmax(logits);
    }
    let mut candidates: Vec<(u32, f32)> = logits
        .iter()
        .enumerate()
        .map(|(idx, &logit)| (idx as u32, logit / params.temperature))
        .collect();
    let by_logit_descending =
        |a: &(u32, f32), b: &(u32, f32)| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0));
    if params.top_k > 0 && params.top_k < candidates.len() {
        candidates.select_nth_unstable_by(params.top_k - 1, by_logit_descending);
        candidates.truncate(params.top_k);
    }
    candidates.sort_unstable_by(by_logit_descending);
    let max = candidates[0].1;
    let mut probabilities: Vec<f64> = candidates
        .iter()
        .map(|&(_, logit)| f64::from(logit - max).exp())
        .collect();
    let total: f64 = probabilities.iter().sum();
    probabilities.iter_mut().for_each(|p| *p /= total);
    if params.top_p < 1.0 {
        let mut cumulative = 0.0;
        let mut keep = probabilities.len();
        for (idx, p) in probabilities.iter().enumerate() {
            cumulative += p;
            if cumulative >= f64::from(params.top_p) {
                keep = idx + 1;
                break;
            }
        }
        probabilities.truncate(keep);
        let kept_total: f64 = probabilities.iter().sum();
        probabilities.iter_mut().for_each(|p| *p /= kept_total);
    }
    let draw = rng.next_uniform();
    let mut cumulative = 0.0;
    for (idx, p) in probabilities.iter().enumerate() {
        cumulative += p;
        if draw < cumulative {
            return candidates[idx].0;
        }
    }
    candidates[probabilities.len() - 1].0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_takes_the_first_maximum() {
        assert_eq!(argmax(&[0.1, 3.0, 3.0, -1.0]), 1);
        let mut rng = SampleRng::new(0, 0);
        assert_eq!(
            sample(&[0.1, 3.0, 2.0], &SamplingParams::greedy(), &mut rng),
            1
        );
    }

    #[test]
    fn top_k_one_is_greedy_and_top_p_keeps_the_head() {
        let logits = [1.0, 5.0, 4.9, 0.0];
        let params = SamplingParams {
            temperature: 1.0,
            top_k: 1,
            top_p: 1.0,
            seed: 3,
        };
        for sample_idx in 0..20 {
            assert_eq!(
                sample(&logits, &params, &mut SampleRng::new(3, sample_idx)),
                1
            );
        }
        // Token 1 alone holds about half the mass; top_p 0.3 keeps only it.
        let params = SamplingParams {
            temperature: 1.0,
            top_k: 0,
            top_p: 0.3,
            seed: 3,
        };
        for sample_idx in 0..20 {
            assert_eq!(
                sample(&logits, &params, &mut SampleRng::new(3, sample_idx)),
                1
            );
        }
    }

    #[test]
    fn sampling_follows_the_distribution_and_the_seed() {
        let logits = [0.0f32, (3.0f32).ln()]; // probabilities 1/4 and 3/4
        let params = SamplingParams {
            temperature: 1.0,
            top_k: 0,
            top_p: 1.0,
            seed: 9,
        };
        let draws: Vec<u32> = (0..4000)
            .map(|idx| sample(&logits, &params, &mut SampleRng::new(9, idx)))
            .collect();
        let ones = draws.iter().filter(|&&t| t == 1).count() as f64 / 4000.0;
        assert!((ones - 0.75).abs() < 0.03, "{ones}");
        let again: Vec<u32> = (0..4000)
            .map(|idx| sample(&logits, &params, &mut SampleRng::new(9, idx)))
            .collect();
        assert_eq!(draws, again);
    }
}
