//! Rotary position embeddings: the inverse frequencies of every scaling kind transformers
//! implements for these architectures, computed the way it computes them (f32 tensors, Python
//! floats for scalars), so that positions rotate to the same bits.

/// How rotary frequencies are rescaled for long contexts.
#[derive(Debug, Clone, PartialEq)]
pub enum RopeScaling {
    Default,
    /// Positions divided by `factor`.
    Linear {
        factor: f64,
    },
    /// Dynamic NTK: the base grows once a sequence runs past `max_position_embeddings`.
    Dynamic {
        factor: f64,
    },
    Llama3 {
        factor: f64,
        low_freq_factor: f64,
        high_freq_factor: f64,
        original_max_position_embeddings: f64,
    },
    Yarn {
        factor: f64,
        original_max_position_embeddings: Option<f64>,
        attention_factor: Option<f64>,
        beta_fast: Option<f64>,
        beta_slow: Option<f64>,
        mscale: Option<f64>,
        mscale_all_dim: Option<f64>,
        truncate: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct RopeConfig {
    pub theta: f64,
    pub head_dim: usize,
    pub max_position_embeddings: usize,
    pub scaling: RopeScaling,
}

/// Inverse frequencies for one forward pass, and the factor cos and sin are multiplied by.
#[derive(Debug, Clone, PartialEq)]
pub struct RotaryFrequencies {
    pub inverse_frequencies: Vec<f32>,
    pub attention_scaling: f32,
}

impl RopeConfig {
    /// The frequencies for a forward pass whose largest position is `max_position`.
    /// Only dynamic NTK scaling depends on it.
    pub fn frequencies(&self, max_position: usize) -> RotaryFrequencies {
        let dim = self.head_dim;
        let default = |base: f64| -> Vec<f32> {
            (0..dim)
                .step_by(2)
                .map(|idx| {
                    let exponent = idx as f32 / dim as f32;
                    1.0 / (base as f32).powf(exponent)
                })
                .collect()
        };
        match &self.scaling {
            RopeScaling::Default => RotaryFrequencies {
                inverse_frequencies: default(self.theta),
                attention_scaling: 1.0,
            },
            RopeScaling::Linear { factor } => RotaryFrequencies {
                inverse_frequencies: default(self.theta)
                    .into_iter()
                    .map(|f| f / *factor as f32)
                    .collect(),
                attention_scaling: 1.0,
            },
            RopeScaling::Dynamic { factor } => {
                let original = self.max_position_embeddings as f64;
                let seq_len = (max_position + 1) as f64;
                let base = if seq_len > original {
                    self.theta
                        * ((factor * seq_len / original) - (factor - 1.0))
                            .powf(dim as f64 / (dim as f64 - 2.0))
                } else {
                    self.theta
                };
                RotaryFrequencies {
                    inverse_frequencies: default(base),
                    attention_scaling: 1.0,
                }
            }
            RopeScaling::Llama3 {
                factor,
                low_freq_factor,
                high_freq_factor,
                original_max_position_embeddings,
            } => {
                let (factor, low, high) = (
                    *factor as f32,
                    *low_freq_factor as f32,
                    *high_freq_factor as f32,
                );
                let old_context = *original_max_position_embeddings as f32;
                let low_freq_wavelength = old_context / low;
                let high_freq_wavelength = old_context / high;
                let inverse_frequencies = default(self.theta)
                    .into_iter()
                    .map(|frequency| {
                        let wavelength = 2.0 * std::f32::consts::PI / frequency;
                        if wavelength < high_freq_wavelength {
                            frequency
                        } else if wavelength > low_freq_wavelength {
                            frequency / factor
                        } else {
                            let smooth = (old_context / wavelength - low) / (high - low);
                            (1.0 - smooth) * frequency / factor + smooth * frequency
                        }
                    })
                    .collect();
                RotaryFrequencies {
                    inverse_frequencies,
                    attention_scaling: 1.0,
                }
            }
            RopeScaling::Yarn {
                factor,
                original_max_position_embeddings,
                attention_factor,
                beta_fast,
                beta_slow,
                mscale,
                mscale_all_dim,
                truncate,
            } => self.yarn(
                *factor,
                *original_max_position_embeddings,
                *attention_factor,
                beta_fast.unwrap_or(32.0),
                beta_slow.unwrap_or(1.0),
                (*mscale, *mscale_all_dim),
                *truncate,
            ),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn yarn(
        &self,
        factor: f64,
        original_max_position_embeddings: Option<f64>,
        attention_factor: Option<f64>,
        beta_fast: f64,
        beta_slow: f64,
        (mscale, mscale_all_dim): (Option<f64>, Option<f64>),
        truncate: bool,
    ) -> RotaryFrequencies {
        let dim = self.head_dim as f64;
        let base = self.theta;
        // Models that raise max_position_embeddings and keep the pretrained length under
        // original_max_position_embeddings scale by the ratio of the two.
        let (original, factor) = match original_max_position_embeddings {
            Some(original) => (original, self.max_position_embeddings as f64 / original),
            None => (self.max_position_embeddings as f64, factor),
        };
        let get_mscale = |scale: f64, mscale: f64| {
            if scale <= 1.0 {
                1.0
            } else {
                0.1 * mscale * scale.ln() + 1.0
            }
        };
        let attention_factor = attention_factor.unwrap_or_else(|| match (mscale, mscale_all_dim) {
            (Some(mscale), Some(all_dim)) if mscale != 0.0 && all_dim != 0.0 => {
                get_mscale(factor, mscale) / get_mscale(factor, all_dim)
            }
            _ => get_mscale(factor, 1.0),
        });
        let correction_dim = |rotations: f64| {
            (dim * (original / (rotations * 2.0 * std::f64::consts::PI)).ln()) / (2.0 * base.ln())
        };
        let (mut low, mut high) = (correction_dim(beta_fast), correction_dim(beta_slow));
        if truncate {
            low = low.floor();
            high = high.ceil();
        }
        let (low, mut high) = (low.max(0.0), high.min(dim - 1.0));
        if low == high {
            high += 0.001;
        }
        let half = self.head_dim / 2;
        let inverse_frequencies = (0..half)
            .map(|idx| {
                let position_frequency = (base as f32).powf((2 * idx) as f32 / dim as f32);
                let extrapolation = 1.0 / position_frequency;
                let interpolation = 1.0 / (factor as f32 * position_frequency);
                let ramp = ((idx as f32 - low as f32) / (high as f32 - low as f32)).clamp(0.0, 1.0);
                let extrapolation_factor = 1.0 - ramp;
                interpolation * (1.0 - extrapolation_factor) + extrapolation * extrapolation_factor
            })
            .collect();
        RotaryFrequencies {
            inverse_frequencies,
            attention_scaling: attention_factor as f32,
        }
    }
}

impl RotaryFrequencies {
    /// Writes `cos` and `sin` (each `head_dim / 2` long) for one position.
    pub fn cos_sin_at(&self, position: usize, cos: &mut [f32], sin: &mut [f32]) {
        let position = position as f32;
        for ((frequency, c), s) in self.inverse_frequencies.iter().zip(cos).zip(sin) {
            let angle = frequency * position;
            *c = angle.cos() * self.attention_scaling;
            *s = angle.sin() * self.attention_scaling;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(scaling: RopeScaling) -> RopeConfig {
        RopeConfig {
            theta: 10000.0,
            head_dim: 8,
            max_position_embeddings: 16,
            scaling,
        }
    }

    #[test]
    fn default_frequencies_follow_the_formula() {
        let frequencies = config(RopeScaling::Default).frequencies(0);
        let expected = [1.0, 0.1, 0.01, 0.001];
        for (got, want) in frequencies.inverse_frequencies.iter().zip(expected) {
            assert!((got - want).abs() < 1e-6 * want.max(1.0), "{got} vs {want}");
        }
    }

    #[test]
    fn dynamic_only_changes_past_the_original_length() {
        let rope = config(RopeScaling::Dynamic { factor: 2.0 });
        assert_eq!(
            rope.frequencies(15),
            config(RopeScaling::Default).frequencies(15)
        );
        assert_ne!(
            rope.frequencies(16),
            config(RopeScaling::Default).frequencies(16)
        );
    }

    #[test]
    fn linear_divides_by_the_factor() {
        let plain = config(RopeScaling::Default).frequencies(0);
        let linear = config(RopeScaling::Linear { factor: 4.0 }).frequencies(0);
        for (a, b) in plain
            .inverse_frequencies
            .iter()
            .zip(&linear.inverse_frequencies)
        {
            assert!((a / 4.0 - b).abs() < 1e-9);
        }
    }
}
