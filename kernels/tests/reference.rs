//! Every CPU kernel against a naive f64 reference on random inputs, on every instruction set
//! this CPU supports. Tolerances are relative to the magnitude of the terms summed.

use half::{bf16, f16};
use proofwright_kernels::cpu;
use proofwright_kernels::{InstructionSet, Matrix, Storage};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn random_vec(rng: &mut ChaCha8Rng, len: usize) -> Vec<f32> {
    (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

/// Weights in each storage type, plus the f32 values they actually hold after rounding.
fn weights(rng: &mut ChaCha8Rng, rows: usize, cols: usize) -> Vec<(Matrix, Vec<f32>)> {
    let values = random_vec(rng, rows * cols);
    let as_bf16: Vec<bf16> = values.iter().map(|&v| bf16::from_f32(v)).collect();
    let as_f16: Vec<f16> = values.iter().map(|&v| f16::from_f32(v)).collect();
    vec![
        (
            Matrix::new(rows, cols, Storage::F32(values.clone())).unwrap(),
            values,
        ),
        (
            Matrix::new(rows, cols, Storage::BF16(as_bf16.clone())).unwrap(),
            as_bf16.iter().map(|v| v.to_f32()).collect(),
        ),
        (
            Matrix::new(rows, cols, Storage::F16(as_f16.clone())).unwrap(),
            as_f16.iter().map(|v| v.to_f32()).collect(),
        ),
    ]
}

#[test]
fn linear_matches_naive_reference_for_every_dtype_isa_and_shape() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    // Shapes cover vector tails (k not a multiple of 8 or 16), weight-row tails (m not a
    // multiple of 4), input-row tails (n not a multiple of the block) and a single row.
    let shapes = [
        (1, 5, 3),
        (1, 64, 130),
        (3, 37, 23),
        (5, 96, 256),
        (9, 200, 67),
        (17, 33, 48),
    ];
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(3)
        .build()
        .unwrap();
    for &(n_rows, in_features, out_features) in &shapes {
        let input = random_vec(&mut rng, n_rows * in_features);
        let bias = random_vec(&mut rng, out_features);
        for (weight, exact_weight) in weights(&mut rng, out_features, in_features) {
            for isa in InstructionSet::all_supported() {
                let mut output = vec![f32::NAN; n_rows * out_features];
                pool.install(|| {
                    cpu::linear_with(isa, &input, n_rows, &weight, Some(&bias), &mut output)
                });
                for r in 0..n_rows {
                    for j in 0..out_features {
                        let x = &input[r * in_features..(r + 1) * in_features];
                        let w = &exact_weight[j * in_features..(j + 1) * in_features];
                        let expected: f64 = x
                            .iter()
                            .zip(w)
                            .map(|(&a, &b)| f64::from(a) * f64::from(b))
                            .sum::<f64>()
                            + f64::from(bias[j]);
                        let scale: f64 = x
                            .iter()
                            .zip(w)
                            .map(|(&a, &b)| f64::from(a * b).abs())
                            .sum::<f64>();
                        let got = f64::from(output[r * out_features + j]);
                        assert!(
                            (got - expected).abs() <= 1e-5 * (scale + 1.0),
                            "{isa:?} {:?} n={n_rows} k={in_features} m={out_features} \
                             [{r},{j}]: {got} vs {expected}",
                            weight.dtype()
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn rms_norm_matches_reference() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let width = 37;
    let input = random_vec(&mut rng, width * 10);
    let weight = random_vec(&mut rng, width);
    let mut output = vec![0.0; input.len()];
    cpu::rms_norm(&input, &weight, 1e-6, &mut output);
    for (row_in, row_out) in input.chunks(width).zip(output.chunks(width)) {
        let mean_square: f64 = row_in.iter().map(|&v| f64::from(v).powi(2)).sum::<f64>() / 37.0;
        for idx in 0..width {
            let expected =
                f64::from(row_in[idx]) / (mean_square + 1e-6).sqrt() * f64::from(weight[idx]);
            assert!((f64::from(row_out[idx]) - expected).abs() < 1e-5, "{idx}");
        }
    }
}

#[test]
fn silu_mul_rotary_softmax_match_reference() {
    let mut rng = ChaCha8Rng::seed_from_u64(12);
    let width = 19;
    let gate_up = random_vec(&mut rng, 2 * width * 3);
    let mut output = vec![0.0; width * 3];
    cpu::silu_mul(&gate_up, width, &mut output);
    for r in 0..3 {
        for idx in 0..width {
            let g = f64::from(gate_up[r * 2 * width + idx]);
            let u = f64::from(gate_up[r * 2 * width + width + idx]);
            let expected = g / (1.0 + (-g).exp()) * u;
            assert!((f64::from(output[r * width + idx]) - expected).abs() < 1e-6);
        }
    }

    let head = random_vec(&mut rng, 8);
    let angles = random_vec(&mut rng, 4);
    let cos: Vec<f32> = angles.iter().map(|a| a.cos()).collect();
    let sin: Vec<f32> = angles.iter().map(|a| a.sin()).collect();
    let mut rotated = head.clone();
    cpu::apply_rotary_half(&mut rotated, &cos, &sin);
    for idx in 0..4 {
        // Each pair (idx, idx + 4) is rotated by angles[idx].
        let (x, y) = (head[idx], head[idx + 4]);
        assert!((rotated[idx] - (x * cos[idx] - y * sin[idx])).abs() < 1e-6);
        assert!((rotated[idx + 4] - (y * cos[idx] + x * sin[idx])).abs() < 1e-6);
    }

    let logits = vec![1.0f32, 2.0, 3.0, -1000.0];
    let mut probabilities = logits.clone();
    cpu::softmax_in_place(&mut probabilities);
    let mut log_probabilities = logits.clone();
    cpu::log_softmax_in_place(&mut log_probabilities);
    let total: f64 = logits.iter().map(|&v| f64::from(v).exp()).sum();
    for idx in 0..4 {
        let expected = f64::from(logits[idx]).exp() / total;
        assert!((f64::from(probabilities[idx]) - expected).abs() < 1e-6);
        if idx < 3 {
            assert!((f64::from(log_probabilities[idx]) - expected.ln()).abs() < 1e-5);
        }
    }
}

#[test]
fn matrix_rejects_wrong_element_count_and_mixed_concat() {
    assert!(Matrix::new(2, 3, Storage::F32(vec![0.0; 5])).is_err());
    let a = Matrix::new(1, 2, Storage::F32(vec![1.0, 2.0])).unwrap();
    let b = Matrix::new(1, 2, Storage::BF16(vec![bf16::ONE; 2])).unwrap();
    assert!(Matrix::concat_rows(vec![a.clone(), b]).is_err());
    let c = Matrix::new(1, 3, Storage::F32(vec![0.0; 3])).unwrap();
    assert!(Matrix::concat_rows(vec![a.clone(), c]).is_err());
    let stacked = Matrix::concat_rows(vec![a.clone(), a]).unwrap();
    assert_eq!((stacked.rows(), stacked.cols()), (2, 2));
}
