//! Every CUDA op against a naive CPU reference (f64 sums of the exact f32 inputs) on random
//! inputs, with the tolerances stated below. Where no GPU is usable each test prints why and
//! passes without checking anything; set `PROOFWRIGHT_REQUIRE_GPU=1` to make that a failure
//! (the GPU checklist in docs/cuda.md does). Each test holds the device's exclusive use from start
//! to end, as the model does per request: cargo runs tests on parallel threads, and the graph
//! test's capture would otherwise record the other tests' work on the shared stream.

use half::{bf16, f16};
use proofwright_kernels::cuda::{
    decode_splits, prefill_tiles, probe, AttentionShape, CudaDevice, DecodeAttention,
    DecodeScratch, DeviceMatrix, GpuBuffer, GpuSamplingParams, KvCachePool, PrefillAttention,
    PrefillTile, QkvPrepare, QuerySpan, DECODE_PARTITION, KV_BLOCK_SIZE, SKINNY_MAX_ROWS,
};
use proofwright_kernels::paged::{BlockPool, BlockTable};
use proofwright_kernels::{DType, Matrix, Storage};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::sync::{Arc, MutexGuard, OnceLock};

const REQUIRE_VARIABLE: &str = "PROOFWRIGHT_REQUIRE_GPU";
/// Element-wise ops and norms: relative to the magnitude of the result.
const ELEMENTWISE_TOLERANCE: f64 = 1e-5;
/// Linear layers: relative to Σ|x·w| of the output element.
const LINEAR_TOLERANCE: f64 = 1e-4;
/// Attention outputs (values are O(1)) with an f32 cache.
const ATTENTION_TOLERANCE_F32: f64 = 1e-4;
/// With a BF16 cache, keys and values are rounded to 8 bits of mantissa on the GPU after an
/// f32 rotation, which can round the other way than the reference's f64 rotation.
const ATTENTION_TOLERANCE_BF16: f64 = 2e-2;
/// Log-probabilities.
const LOG_PROB_TOLERANCE: f64 = 1e-4;

/// The GPU for one test, held for the test's exclusive use until it is dropped (declared first
/// in a test, it is dropped after every buffer the test made).
struct ExclusiveGpu {
    device: &'static CudaDevice,
    _exclusive_use: MutexGuard<'static, ()>,
}

impl std::ops::Deref for ExclusiveGpu {
    type Target = CudaDevice;

    fn deref(&self) -> &CudaDevice {
        self.device
    }
}

/// The GPU, or `None` after printing why the calling test is skipped.
fn gpu(test: &str) -> Option<ExclusiveGpu> {
    static DEVICE: OnceLock<Result<Arc<CudaDevice>, String>> = OnceLock::new();
    let device = DEVICE.get_or_init(|| {
        probe(0).map_err(|error| error.to_string())?;
        CudaDevice::open(0).map_err(|error| error.to_string())
    });
    match device {
        Ok(device) => Some(ExclusiveGpu {
            device,
            _exclusive_use: device.exclusive_use(),
        }),
        Err(reason) => {
            assert!(
                std::env::var(REQUIRE_VARIABLE).map_or(true, |value| value != "1"),
                "{test}: {REQUIRE_VARIABLE}=1 but no GPU is usable: {reason}"
            );
            println!("skipping {test}: no usable GPU: {reason}");
            None
        }
    }
}

fn random_vec(rng: &mut ChaCha8Rng, len: usize) -> Vec<f32> {
    (0..len).map(|_| rng.random_range(-1.0f32..1.0)).collect()
}

fn assert_close(what: &str, got: &[f32], expected: &[f64], tolerance: impl Fn(usize) -> f64) {
    assert_eq!(got.len(), expected.len(), "{what}: length");
    for (idx, (&got, &expected)) in got.iter().zip(expected).enumerate() {
        let allowed = tolerance(idx);
        assert!(
            (f64::from(got) - expected).abs() <= allowed,
            "{what}[{idx}]: {got} vs {expected} (allowed {allowed})"
        );
    }
}

/// A matrix in `dtype` and the f32 values it actually holds.
fn matrix(rng: &mut ChaCha8Rng, rows: usize, cols: usize, dtype: DType) -> (Matrix, Vec<f32>) {
    let values = random_vec(rng, rows * cols);
    match dtype {
        DType::F32 => (
            Matrix::new(rows, cols, Storage::F32(values.clone())).unwrap(),
            values,
        ),
        DType::BF16 => {
            let stored: Vec<bf16> = values.iter().map(|&v| bf16::from_f32(v)).collect();
            let exact = stored.iter().map(|v| v.to_f32()).collect();
            (
                Matrix::new(rows, cols, Storage::BF16(stored)).unwrap(),
                exact,
            )
        }
        DType::F16 => {
            let stored: Vec<f16> = values.iter().map(|&v| f16::from_f32(v)).collect();
            let exact = stored.iter().map(|v| v.to_f32()).collect();
            (
                Matrix::new(rows, cols, Storage::F16(stored)).unwrap(),
                exact,
            )
        }
    }
}

fn round_to(dtype: DType, value: f32) -> f32 {
    match dtype {
        DType::F32 => value,
        DType::BF16 => bf16::from_f32(value).to_f32(),
        DType::F16 => f16::from_f32(value).to_f32(),
    }
}

#[test]
fn embedding_rms_norm_silu_mul_bias_and_gather_match_the_reference() {
    let Some(device) = gpu("embedding_rms_norm_silu_mul_bias_and_gather_match_the_reference")
    else {
        return;
    };
    let mut rng = ChaCha8Rng::seed_from_u64(1);
    let (rows, width) = (7, 300);

    for dtype in [DType::F32, DType::BF16, DType::F16] {
        let (table, exact) = matrix(&mut rng, 50, width, dtype);
        let table = DeviceMatrix::upload(&device, &table).unwrap();
        let token_ids: Vec<u32> = (0..rows).map(|_| rng.random_range(0..50)).collect();
        let ids = device.upload(&token_ids).unwrap();
        let mut out = device.alloc::<f32>(rows * width).unwrap();
        device
            .embedding(&table, ids.view(), rows, &mut out)
            .unwrap();
        let got = device.read(&out, rows * width).unwrap();
        let expected: Vec<f64> = token_ids
            .iter()
            .flat_map(|&id| exact[id as usize * width..(id as usize + 1) * width].iter())
            .map(|&v| f64::from(v))
            .collect();
        assert_close(&format!("embedding {dtype}"), &got, &expected, |_| 0.0);
    }

    let input = random_vec(&mut rng, rows * width);
    let weight = random_vec(&mut rng, width);
    let eps = 1e-6f32;
    let input_buffer = device.upload(&input).unwrap();
    let weight_buffer = device.upload(&weight).unwrap();
    let mut out = device.alloc::<f32>(rows * width).unwrap();
    device
        .rms_norm(&input_buffer, &weight_buffer, eps, rows, &mut out)
        .unwrap();
    let got = device.read(&out, rows * width).unwrap();
    let mut expected = Vec::new();
    for row in input.chunks(width) {
        let mean_square = row
            .iter()
            .map(|&v| f64::from(v) * f64::from(v))
            .sum::<f64>()
            / width as f64;
        let inverse = 1.0 / (mean_square + f64::from(eps)).sqrt();
        expected.extend(
            row.iter()
                .zip(&weight)
                .map(|(&x, &w)| f64::from(w) * f64::from(x) * inverse),
        );
    }
    assert_close("rms_norm", &got, &expected, |idx| {
        ELEMENTWISE_TOLERANCE * (1.0 + expected[idx].abs())
    });

    let gate_up = random_vec(&mut rng, rows * 2 * width);
    let gate_up_buffer = device.upload(&gate_up).unwrap();
    let mut activated = device.alloc::<f32>(rows * width).unwrap();
    device
        .silu_mul(&gate_up_buffer, width, rows, &mut activated)
        .unwrap();
    let got = device.read(&activated, rows * width).unwrap();
    let expected: Vec<f64> = gate_up
        .chunks(2 * width)
        .flat_map(|row| {
            let (gate, up) = row.split_at(width);
            gate.iter()
                .zip(up)
                .map(|(&g, &u)| {
                    let g = f64::from(g);
                    g / (1.0 + (-g).exp()) * f64::from(u)
                })
                .collect::<Vec<_>>()
        })
        .collect();
    assert_close("silu_mul", &got, &expected, |idx| {
        ELEMENTWISE_TOLERANCE * (1.0 + expected[idx].abs())
    });

    let bias = random_vec(&mut rng, width);
    let bias_buffer = device.upload(&bias).unwrap();
    let mut x = device.upload(&input).unwrap();
    device.add_bias(&mut x, &bias_buffer, rows).unwrap();
    let got = device.read(&x, rows * width).unwrap();
    let expected: Vec<f64> = input
        .iter()
        .enumerate()
        .map(|(idx, &v)| f64::from(v + bias[idx % width]))
        .collect();
    assert_close("add_bias", &got, &expected, |_| 0.0);

    let row_ids = [6u32, 0, 3];
    let ids = device.upload(&row_ids).unwrap();
    let mut gathered = device.alloc::<f32>(3 * width).unwrap();
    device
        .gather_rows(&input_buffer, &ids, 3, width, &mut gathered)
        .unwrap();
    let got = device.read(&gathered, 3 * width).unwrap();
    let expected: Vec<f64> = row_ids
        .iter()
        .flat_map(|&r| input[r as usize * width..(r as usize + 1) * width].iter())
        .map(|&v| f64::from(v))
        .collect();
    assert_close("gather_rows", &got, &expected, |_| 0.0);
}

#[test]
fn linear_matches_the_reference_for_every_dtype_row_count_and_shape() {
    let Some(device) = gpu("linear_matches_the_reference_for_every_dtype_row_count_and_shape")
    else {
        return;
    };
    let mut rng = ChaCha8Rng::seed_from_u64(2);
    // Row counts cover the decode kernel (1 ..= SKINNY_MAX_ROWS) and cuBLAS; shapes cover
    // in_features that are not a multiple of 8 (the kernel's scalar path) and out_features that
    // are not a multiple of a block's columns.
    let row_counts = [1, 2, 3, SKINNY_MAX_ROWS, SKINNY_MAX_ROWS + 1, 17, 64];
    let shapes = [(64, 40), (136, 96), (37, 23), (512, 130)];
    for dtype in [DType::F32, DType::BF16, DType::F16] {
        for &(in_features, out_features) in &shapes {
            let (weight, exact_weight) = matrix(&mut rng, out_features, in_features, dtype);
            let weight = DeviceMatrix::upload(&device, &weight).unwrap();
            let bias = random_vec(&mut rng, out_features);
            let bias_buffer = device.upload(&bias).unwrap();
            for &n_rows in &row_counts {
                for (with_bias, accumulate) in [(false, false), (true, true)] {
                    let input = random_vec(&mut rng, n_rows * in_features);
                    let initial = random_vec(&mut rng, n_rows * out_features);
                    let input_buffer = device.upload(&input).unwrap();
                    let mut output = device.upload(&initial).unwrap();
                    let mut scratch = device.alloc::<u16>(n_rows * in_features).unwrap();
                    device
                        .linear(
                            &input_buffer,
                            n_rows,
                            &weight,
                            with_bias.then_some(&bias_buffer),
                            &mut output,
                            accumulate,
                            &mut scratch,
                        )
                        .unwrap();
                    let got = device.read(&output, n_rows * out_features).unwrap();
                    // Both paths (cuBLAS and the decode kernel) multiply 16-bit weights by the
                    // input rounded to their type, so a row's result is the same whatever the
                    // number of rows.
                    let rounds_input = dtype != DType::F32;
                    let mut expected = Vec::new();
                    let mut scales = Vec::new();
                    for r in 0..n_rows {
                        for j in 0..out_features {
                            let x = &input[r * in_features..(r + 1) * in_features];
                            let w = &exact_weight[j * in_features..(j + 1) * in_features];
                            let mut sum = 0.0f64;
                            let mut scale = 0.0f64;
                            for (&xv, &wv) in x.iter().zip(w) {
                                let xv = if rounds_input {
                                    round_to(dtype, xv)
                                } else {
                                    xv
                                };
                                sum += f64::from(xv) * f64::from(wv);
                                scale += (f64::from(xv) * f64::from(wv)).abs();
                            }
                            if with_bias {
                                sum += f64::from(bias[j]);
                            }
                            if accumulate {
                                sum += f64::from(initial[r * out_features + j]);
                            }
                            expected.push(sum);
                            scales.push(scale + 1.0);
                        }
                    }
                    assert_close(
                        &format!(
                            "linear {dtype} rows {n_rows} k {in_features} m {out_features} \
                             bias {with_bias} accumulate {accumulate}"
                        ),
                        &got,
                        &expected,
                        |idx| LINEAR_TOLERANCE * scales[idx],
                    );
                }
            }
        }
    }
}

/// One attention test case: sequences with some positions already cached and some new ones.
struct AttentionCase {
    shape: AttentionShape,
    kv_dtype: DType,
    /// (positions already cached, new positions) per sequence.
    sequences: Vec<(usize, usize)>,
    window: Option<usize>,
    qk_norm: bool,
}

/// Rotates `head` in place with the rotate-half layout, as the CPU path does.
fn rotate(head: &mut [f64], cos: &[f32], sin: &[f32]) {
    let half = head.len() / 2;
    for idx in 0..half {
        let (x1, x2) = (head[idx], head[idx + half]);
        let (c, s) = (f64::from(cos[idx]), f64::from(sin[idx]));
        head[idx] = x1 * c - x2 * s;
        head[idx + half] = x2 * c + x1 * s;
    }
}

fn norm_head(head: &mut [f64], weight: &[f32], eps: f64) {
    let mean_square = head.iter().map(|v| v * v).sum::<f64>() / head.len() as f64;
    let inverse = 1.0 / (mean_square + eps).sqrt();
    for (v, &w) in head.iter_mut().zip(weight) {
        *v = f64::from(w) * (*v * inverse);
    }
}

fn run_attention_case(device: &CudaDevice, case: &AttentionCase, rng: &mut ChaCha8Rng) {
    let shape = case.shape;
    let (n_heads, n_kv, dim) = (shape.n_heads, shape.n_kv_heads, shape.head_dim);
    let half = dim / 2;
    let group = n_heads / n_kv;
    let row_width = shape.q_dim() + 2 * shape.kv_dim();
    let eps = 1e-6f32;
    let label = format!(
        "heads {n_heads}/{n_kv} dim {dim} cache {} window {:?} qk_norm {}",
        case.kv_dtype, case.window, case.qk_norm
    );

    // Block tables: blocks handed out in an interleaved order across sequences, so that no
    // sequence's blocks are contiguous.
    let total_positions: usize = case.sequences.iter().map(|(old, new)| old + new).sum();
    let n_blocks = total_positions.div_ceil(KV_BLOCK_SIZE) + case.sequences.len() + 2;
    let mut pool = BlockPool::new(n_blocks, KV_BLOCK_SIZE, 1).unwrap();
    let mut tables: Vec<BlockTable> = case.sequences.iter().map(|_| BlockTable::new()).collect();
    let mut all_slots: Vec<Vec<u32>> = vec![Vec::new(); case.sequences.len()];
    let longest = case.sequences.iter().map(|(o, n)| o + n).max().unwrap();
    for position in 0..longest {
        for (sequence, &(old, new)) in case.sequences.iter().enumerate() {
            if position < old + new {
                let slot = tables[sequence]
                    .append(&mut pool, 1, &mut Vec::new())
                    .unwrap();
                all_slots[sequence].push(slot[0]);
            }
        }
    }
    let table_width = tables.iter().map(|t| t.blocks().len()).max().unwrap();
    let mut table_words = vec![0u32; case.sequences.len() * table_width];
    for (sequence, table) in tables.iter().enumerate() {
        table_words[sequence * table_width..sequence * table_width + table.blocks().len()]
            .copy_from_slice(table.blocks());
    }

    // Every position of every sequence goes through qkv_prepare in one call.
    let mut qkv = Vec::new();
    let mut cos = Vec::new();
    let mut sin = Vec::new();
    let mut slots = Vec::new();
    let mut row_of = Vec::new(); // (sequence, position) of each row
    for (sequence, sequence_slots) in all_slots.iter().enumerate() {
        for (position, &slot) in sequence_slots.iter().enumerate() {
            qkv.extend(random_vec(rng, row_width));
            for idx in 0..half {
                let angle = position as f32 * 0.37f32.powi(idx as i32 % 5);
                cos.push(angle.cos());
                sin.push(angle.sin());
            }
            slots.push(slot);
            row_of.push((sequence, position));
        }
    }
    let n_rows = row_of.len();
    let q_norm: Vec<f32> = (0..dim).map(|_| rng.random_range(0.5f32..1.5)).collect();
    let k_norm: Vec<f32> = (0..dim).map(|_| rng.random_range(0.5f32..1.5)).collect();

    let qkv_buffer = device.upload(&qkv).unwrap();
    let cos_buffer = device.upload(&cos).unwrap();
    let sin_buffer = device.upload(&sin).unwrap();
    let slots_buffer = device.upload(&slots).unwrap();
    let q_norm_buffer = device.upload(&q_norm).unwrap();
    let k_norm_buffer = device.upload(&k_norm).unwrap();
    let mut queries = device.alloc::<f32>(n_rows * shape.q_dim()).unwrap();
    let mut cache = KvCachePool::new(device, case.kv_dtype, 1, n_kv, dim, n_blocks).unwrap();
    device
        .qkv_prepare(
            shape,
            &QkvPrepare {
                qkv: &qkv_buffer,
                n_tokens: n_rows,
                q_norm: case.qk_norm.then_some(&q_norm_buffer),
                k_norm: case.qk_norm.then_some(&k_norm_buffer),
                eps,
                cos: cos_buffer.view(),
                sin: sin_buffer.view(),
                slots: slots_buffer.view(),
                layer: 0,
            },
            &mut queries,
            &mut cache,
        )
        .unwrap();

    // The reference: rotated queries, and keys and values as the cache holds them.
    let mut ref_queries = vec![vec![0.0f64; shape.q_dim()]; n_rows];
    let mut ref_keys = vec![vec![0.0f64; shape.kv_dim()]; n_rows];
    let mut ref_values = vec![vec![0.0f64; shape.kv_dim()]; n_rows];
    for row in 0..n_rows {
        let source = &qkv[row * row_width..(row + 1) * row_width];
        let (c, s) = (
            &cos[row * half..(row + 1) * half],
            &sin[row * half..(row + 1) * half],
        );
        for head in 0..n_heads + n_kv {
            let mut values: Vec<f64> = source[head * dim..(head + 1) * dim]
                .iter()
                .map(|&v| f64::from(v))
                .collect();
            if case.qk_norm {
                norm_head(
                    &mut values,
                    if head < n_heads { &q_norm } else { &k_norm },
                    f64::from(eps),
                );
            }
            rotate(&mut values, c, s);
            if head < n_heads {
                ref_queries[row][head * dim..(head + 1) * dim].copy_from_slice(&values);
            } else {
                let kv_head = head - n_heads;
                for (idx, v) in values.iter().enumerate() {
                    ref_keys[row][kv_head * dim + idx] =
                        f64::from(round_to(case.kv_dtype, *v as f32));
                }
                let value_source =
                    &source[(n_heads + n_kv + kv_head) * dim..(n_heads + n_kv + kv_head + 1) * dim];
                for (idx, &v) in value_source.iter().enumerate() {
                    ref_values[row][kv_head * dim + idx] = f64::from(round_to(case.kv_dtype, v));
                }
            }
        }
    }
    let got_queries = device.read(&queries, n_rows * shape.q_dim()).unwrap();
    let flat_queries: Vec<f64> = ref_queries.iter().flatten().copied().collect();
    assert_close(
        &format!("{label}: rotated queries"),
        &got_queries,
        &flat_queries,
        |idx| ELEMENTWISE_TOLERANCE * (1.0 + flat_queries[idx].abs()),
    );

    let reference_attention = |sequence: usize, position: usize, head: usize| -> Vec<f64> {
        let row_of_position = |p: usize| {
            row_of
                .iter()
                .position(|&(s, q)| s == sequence && q == p)
                .unwrap()
        };
        let query = &ref_queries[row_of_position(position)][head * dim..(head + 1) * dim];
        let kv_head = head / group;
        let first = case.window.map_or(0, |w| (position + 1).saturating_sub(w));
        let scale = 1.0 / (dim as f64).sqrt();
        let scores: Vec<f64> = (first..=position)
            .map(|p| {
                let key = &ref_keys[row_of_position(p)][kv_head * dim..(kv_head + 1) * dim];
                query.iter().zip(key).map(|(a, b)| a * b).sum::<f64>() * scale
            })
            .collect();
        let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let weights: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
        let total: f64 = weights.iter().sum();
        let mut out = vec![0.0; dim];
        for (p, w) in (first..=position).zip(&weights) {
            let value = &ref_values[row_of_position(p)][kv_head * dim..(kv_head + 1) * dim];
            for (o, v) in out.iter_mut().zip(value) {
                *o += w / total * v;
            }
        }
        out
    };
    let tolerance = if case.kv_dtype == DType::F32 {
        ATTENTION_TOLERANCE_F32
    } else {
        ATTENTION_TOLERANCE_BF16
    };

    // Prefill attention for each sequence's new positions.
    let mut spans = Vec::new();
    let mut first_row = 0;
    for (sequence, &(old, new)) in case.sequences.iter().enumerate() {
        spans.push(QuerySpan {
            sequence,
            first_row: first_row + old,
            n_tokens: new,
            first_position: old,
        });
        first_row += old + new;
    }
    let tiles = prefill_tiles(&spans);
    let tiles_buffer = device
        .upload(&PrefillTile::to_kernel_values(&tiles))
        .unwrap();
    let tables_buffer = device.upload(&table_words).unwrap();
    let mut out = device.alloc::<f32>(n_rows * shape.q_dim()).unwrap();
    device
        .attention_prefill(
            shape,
            &PrefillAttention {
                queries: &queries,
                n_rows,
                n_sequences: case.sequences.len(),
                block_tables: tables_buffer.view(),
                table_width,
                tiles: tiles_buffer.view(),
                n_tiles: tiles.len(),
                window: case.window,
                layer: 0,
            },
            &cache,
            &mut out,
        )
        .unwrap();
    let got = device.read(&out, n_rows * shape.q_dim()).unwrap();
    for span in &spans {
        for offset in 0..span.n_tokens {
            let row = span.first_row + offset;
            for head in 0..n_heads {
                let expected =
                    reference_attention(span.sequence, span.first_position + offset, head);
                let start = row * shape.q_dim() + head * dim;
                assert_close(
                    &format!(
                        "{label}: prefill sequence {} position {} head {head}",
                        span.sequence,
                        span.first_position + offset
                    ),
                    &got[start..start + dim],
                    &expected,
                    |_| tolerance,
                );
            }
        }
    }

    // Decode attention for each sequence's last position.
    let last_rows: Vec<u32> = spans
        .iter()
        .map(|span| (span.first_row + span.n_tokens - 1) as u32)
        .collect();
    let row_ids = device.upload(&last_rows).unwrap();
    let n_sequences = spans.len();
    let mut decode_queries = device.alloc::<f32>(n_sequences * shape.q_dim()).unwrap();
    device
        .gather_rows(
            &queries,
            &row_ids,
            n_sequences,
            shape.q_dim(),
            &mut decode_queries,
        )
        .unwrap();
    let seq_lens: Vec<u32> = case.sequences.iter().map(|(o, n)| (o + n) as u32).collect();
    let seq_lens_buffer = device.upload(&seq_lens).unwrap();
    let n_splits = decode_splits(longest);
    let mut scratch = DecodeScratch::new(device, shape, n_sequences, n_splits).unwrap();
    let mut decode_out = device.alloc::<f32>(n_sequences * shape.q_dim()).unwrap();
    device
        .attention_decode(
            shape,
            &DecodeAttention {
                queries: &decode_queries,
                n_sequences,
                block_tables: tables_buffer.view(),
                table_width,
                seq_lens: seq_lens_buffer.view(),
                n_splits,
                window: case.window,
                layer: 0,
            },
            &cache,
            &mut scratch,
            &mut decode_out,
        )
        .unwrap();
    let got = device
        .read(&decode_out, n_sequences * shape.q_dim())
        .unwrap();
    for (sequence, &(old, new)) in case.sequences.iter().enumerate() {
        for head in 0..n_heads {
            let expected = reference_attention(sequence, old + new - 1, head);
            let start = sequence * shape.q_dim() + head * dim;
            assert_close(
                &format!("{label}: decode sequence {sequence} head {head} ({n_splits} splits)"),
                &got[start..start + dim],
                &expected,
                |_| tolerance,
            );
        }
    }
}

#[test]
fn qkv_prepare_prefill_and_decode_attention_match_the_reference() {
    let Some(device) = gpu("qkv_prepare_prefill_and_decode_attention_match_the_reference") else {
        return;
    };
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let shape = |n_heads, n_kv_heads, head_dim| AttentionShape {
        n_heads,
        n_kv_heads,
        head_dim,
    };
    let cases = [
        // Grouped-query heads, a cached prefix and new tokens spanning several tiles.
        AttentionCase {
            shape: shape(8, 2, 64),
            kv_dtype: DType::F32,
            sequences: vec![(37, 20), (0, 5), (16, 1)],
            window: None,
            qk_norm: false,
        },
        // A sliding window, per-head norms and a BF16 cache.
        AttentionCase {
            shape: shape(4, 2, 128),
            kv_dtype: DType::BF16,
            sequences: vec![(10, 30), (3, 2)],
            window: Some(7),
            qk_norm: true,
        },
        // Decode over several partitions, and a group larger than one block handles.
        AttentionCase {
            shape: shape(12, 1, 32),
            kv_dtype: DType::F32,
            sequences: vec![(2 * DECODE_PARTITION + 40, 3), (1, 1)],
            window: None,
            qk_norm: false,
        },
        // A small head dimension (the fixtures') and an F16 cache.
        AttentionCase {
            shape: shape(4, 2, 16),
            kv_dtype: DType::F16,
            sequences: vec![(5, 11)],
            window: Some(5),
            qk_norm: false,
        },
    ];
    for case in &cases {
        run_attention_case(&device, case, &mut rng);
    }
}

#[test]
fn copy_blocks_copies_every_layer_of_each_pair() {
    let Some(device) = gpu("copy_blocks_copies_every_layer_of_each_pair") else {
        return;
    };
    let shape = AttentionShape {
        n_heads: 2,
        n_kv_heads: 1,
        head_dim: 8,
    };
    let n_blocks = 4;
    let mut cache = KvCachePool::new(&device, DType::F32, 2, 1, 8, n_blocks).unwrap();
    // Write position p of block 1 in both layers through qkv_prepare (identity rotation).
    let row_width = shape.q_dim() + 2 * shape.kv_dim();
    let slots: Vec<u32> = (0..KV_BLOCK_SIZE as u32)
        .map(|p| KV_BLOCK_SIZE as u32 + p)
        .collect();
    let qkv: Vec<f32> = (0..KV_BLOCK_SIZE * row_width).map(|v| v as f32).collect();
    let qkv_buffer = device.upload(&qkv).unwrap();
    let ones = device.upload(&vec![1.0f32; KV_BLOCK_SIZE * 4]).unwrap();
    let zeros = device.upload(&vec![0.0f32; KV_BLOCK_SIZE * 4]).unwrap();
    let slots_buffer = device.upload(&slots).unwrap();
    let mut queries = device.alloc::<f32>(KV_BLOCK_SIZE * shape.q_dim()).unwrap();
    for layer in 0..2 {
        device
            .qkv_prepare(
                shape,
                &QkvPrepare {
                    qkv: &qkv_buffer,
                    n_tokens: KV_BLOCK_SIZE,
                    q_norm: None,
                    k_norm: None,
                    eps: 1e-6,
                    cos: ones.view(),
                    sin: zeros.view(),
                    slots: slots_buffer.view(),
                    layer,
                },
                &mut queries,
                &mut cache,
            )
            .unwrap();
    }
    let pairs = device.upload(&[1u32, 3]).unwrap();
    device.copy_blocks(&mut cache, &pairs, 1).unwrap();
    // Decode attention over a table of block 3 alone must now see block 1's contents: with a
    // single position the output is that position's value.
    let tables = device.upload(&[3u32]).unwrap();
    let seq_lens = device.upload(&[1u32]).unwrap();
    let decode_queries = device.upload(&vec![0.5f32; shape.q_dim()]).unwrap();
    let mut scratch = DecodeScratch::new(&device, shape, 1, 1).unwrap();
    for layer in 0..2 {
        let mut out = device.alloc::<f32>(shape.q_dim()).unwrap();
        device
            .attention_decode(
                shape,
                &DecodeAttention {
                    queries: &decode_queries,
                    n_sequences: 1,
                    block_tables: tables.view(),
                    table_width: 1,
                    seq_lens: seq_lens.view(),
                    n_splits: 1,
                    window: None,
                    layer,
                },
                &cache,
                &mut scratch,
                &mut out,
            )
            .unwrap();
        let got = device.read(&out, shape.q_dim()).unwrap();
        let value_start = shape.q_dim() + shape.kv_dim();
        let expected: Vec<f64> = (0..2)
            .flat_map(|_| (0..8).map(|d| (value_start + d) as f64))
            .collect();
        assert_close(
            &format!("copied block, layer {layer}"),
            &got,
            &expected,
            |_| 1e-6,
        );
    }
}

#[test]
fn sampling_is_greedy_top_k_and_top_p_as_specified() {
    let Some(device) = gpu("sampling_is_greedy_top_k_and_top_p_as_specified") else {
        return;
    };
    let vocab = 5003;
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let mut logits: Vec<f32> = (0..vocab).map(|_| rng.random_range(-4.0f32..4.0)).collect();
    // Ties at the top: greedy takes the first.
    logits[17] = 9.0;
    logits[4001] = 9.0;
    let logits_buffer = device.upload(&logits).unwrap();
    let n_rows = 2000;
    let uniforms: Vec<f64> = (0..n_rows)
        .map(|i| (i as f64 + 0.5) / n_rows as f64)
        .collect();
    let uniforms_buffer = device.upload(&uniforms).unwrap();
    let mut tokens = device.alloc::<u32>(n_rows).unwrap();
    let mut sample = |params: GpuSamplingParams| -> Vec<u32> {
        let params_buffer = device.upload(&params.to_kernel_values()).unwrap();
        device
            .sample(
                &logits_buffer,
                0,
                n_rows,
                vocab,
                &params_buffer,
                uniforms_buffer.view(),
                &mut tokens,
            )
            .unwrap();
        device.read(&tokens, n_rows).unwrap()
    };

    let greedy = sample(GpuSamplingParams {
        temperature: 0.0,
        top_p: 1.0,
        top_k: 0,
    });
    assert!(
        greedy.iter().all(|&t| t == 17),
        "greedy takes the first maximum"
    );

    // Reference: keys sorted by (value desc, index asc), top-k, then top-p, then the draw
    // walks the kept tokens in index order.
    let reference = |temperature: f32, top_k: usize, top_p: f32| -> Vec<(u32, f64)> {
        let keys: Vec<f32> = logits.iter().map(|&l| l / temperature).collect();
        let mut order: Vec<u32> = (0..vocab as u32).collect();
        order.sort_by(|&a, &b| {
            keys[b as usize]
                .total_cmp(&keys[a as usize])
                .then(a.cmp(&b))
        });
        if top_k > 0 && top_k < vocab {
            order.truncate(top_k);
        }
        let max = f64::from(keys[order[0] as usize]);
        let masses: Vec<f64> = order
            .iter()
            .map(|&t| (f64::from(keys[t as usize]) - max).exp())
            .collect();
        let total: f64 = masses.iter().sum();
        let mut keep = order.len();
        if top_p < 1.0 {
            let mut cumulative = 0.0;
            for (idx, mass) in masses.iter().enumerate() {
                cumulative += mass / total;
                if cumulative >= f64::from(top_p) {
                    keep = idx + 1;
                    break;
                }
            }
        }
        let mut kept: Vec<(u32, f64)> = order[..keep]
            .iter()
            .zip(&masses)
            .map(|(&t, &m)| (t, m))
            .collect();
        let kept_total: f64 = kept.iter().map(|(_, m)| m).sum();
        kept.iter_mut().for_each(|(_, m)| *m /= kept_total);
        kept.sort_by_key(|(t, _)| *t);
        kept
    };
    for (temperature, top_k, top_p) in [
        (1.0f32, 0usize, 1.0f32),
        (0.7, 50, 1.0),
        (1.3, 0, 0.9),
        (1.0, 40, 0.5),
        (1.0, 1, 1.0),
    ] {
        let got = sample(GpuSamplingParams {
            temperature,
            top_p,
            top_k,
        });
        let kept = reference(temperature, top_k, top_p);
        // Evenly spaced draws walk the kept tokens in index order: sample i is the token whose
        // cumulative probability interval holds (i + 0.5) / n, up to the boundaries.
        let mut cumulative = 0.0;
        let mut expected = Vec::with_capacity(n_rows);
        let mut boundaries = Vec::new();
        for (token, probability) in &kept {
            let end = cumulative + probability;
            boundaries.push(end);
            while expected.len() < n_rows && uniforms[expected.len()] < end {
                expected.push(*token);
            }
            cumulative = end;
        }
        while expected.len() < n_rows {
            expected.push(kept.last().unwrap().0);
        }
        for (row, (&got_token, &expected_token)) in got.iter().zip(&expected).enumerate() {
            if got_token != expected_token {
                // Only a draw within rounding of a boundary may land on the neighbour.
                let near = boundaries.iter().any(|b| (b - uniforms[row]).abs() < 1e-5);
                assert!(
                    near,
                    "temperature {temperature} top_k {top_k} top_p {top_p}: row {row} drew \
                     {got_token}, expected {expected_token}"
                );
            }
        }
    }
}

#[test]
fn log_probs_match_a_float64_log_softmax() {
    let Some(device) = gpu("log_probs_match_a_float64_log_softmax") else {
        return;
    };
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let (rows, vocab) = (5, 151_936);
    let logits: Vec<f32> = (0..rows * vocab)
        .map(|_| rng.random_range(-20.0f32..20.0))
        .collect();
    let targets: Vec<u32> = (0..rows)
        .map(|_| rng.random_range(0..vocab as u32))
        .collect();
    let logits_buffer = device.upload(&logits).unwrap();
    let targets_buffer = device.upload(&targets).unwrap();
    let mut out = device.alloc::<f32>(rows).unwrap();
    device
        .gather_log_probs(&logits_buffer, rows, vocab, &targets_buffer, &mut out)
        .unwrap();
    let got = device.read(&out, rows).unwrap();
    let expected: Vec<f64> = logits
        .chunks(vocab)
        .zip(&targets)
        .map(|(row, &target)| {
            let max = row.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            let total: f64 = row
                .iter()
                .map(|&v| (f64::from(v) - f64::from(max)).exp())
                .sum();
            f64::from(row[target as usize]) - f64::from(max) - total.ln()
        })
        .collect();
    assert_close("log_probs", &got, &expected, |_| LOG_PROB_TOLERANCE);
}

#[test]
fn a_captured_graph_replays_the_same_work() {
    let Some(device) = gpu("a_captured_graph_replays_the_same_work") else {
        return;
    };
    let mut rng = ChaCha8Rng::seed_from_u64(6);
    let width = 256;
    let input = device.upload(&random_vec(&mut rng, 4 * width)).unwrap();
    let weight = device.upload(&random_vec(&mut rng, width)).unwrap();
    let mut direct: GpuBuffer<f32> = device.alloc(4 * width).unwrap();
    device
        .rms_norm(&input, &weight, 1e-5, 4, &mut direct)
        .unwrap();
    let mut replayed: GpuBuffer<f32> = device.alloc(4 * width).unwrap();
    let mut graph = device
        .capture(|device| device.rms_norm(&input, &weight, 1e-5, 4, &mut replayed))
        .unwrap();
    assert!(
        device
            .read(&replayed, 4 * width)
            .unwrap()
            .iter()
            .all(|&v| v == 0.0),
        "capturing runs nothing"
    );
    graph.launch(&device).unwrap();
    assert_eq!(
        device.read(&replayed, 4 * width).unwrap(),
        device.read(&direct, 4 * width).unwrap()
    );
}

#[test]
fn a_failed_or_panicking_capture_leaves_the_stream_usable() {
    let Some(device) = gpu("a_failed_or_panicking_capture_leaves_the_stream_usable") else {
        return;
    };
    let values: Vec<f32> = (0..256).map(|idx| idx as f32).collect();
    let input = device.upload(&values).unwrap();
    let weight = device.upload(&vec![1.0f32; values.len()]).unwrap();
    let mut output: GpuBuffer<f32> = device.alloc(values.len()).unwrap();
    let failed = device.capture(|device| {
        device.rms_norm(&input, &weight, 1e-5, 1, &mut output)?;
        Err(proofwright_kernels::cuda::CudaError::InvalidArgument {
            op: "test",
            problem: "a step that fails while being recorded".to_owned(),
        })
    });
    assert!(failed.is_err());
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        device.capture(|device| {
            device.rms_norm(&input, &weight, 1e-5, 1, &mut output)?;
            panic!("a step that panics while being recorded")
        })
    }));
    assert!(panicked.is_err());
    // Neither recording ran; the stream is out of capture mode and runs work again.
    assert!(device
        .read(&output, values.len())
        .unwrap()
        .iter()
        .all(|&v| v == 0.0));
    device
        .rms_norm(&input, &weight, 1e-5, 1, &mut output)
        .unwrap();
    assert!(device.read(&output, values.len()).unwrap()[1] > 0.0);
}

#[test]
fn copy_bandwidth_is_measured() {
    let Some(device) = gpu("copy_bandwidth_is_measured") else {
        return;
    };
    let bandwidth = device.measure_copy_bandwidth(64 << 20, 3).unwrap();
    assert!(bandwidth.is_finite() && bandwidth > 0.0, "{bandwidth}");
    // `bench` asks for more than may be free once a model and its KV cache are loaded: the
    // buffers shrink to fit instead of failing.
    let (free_bytes, _total) = device.memory_info().unwrap();
    let bandwidth = device.measure_copy_bandwidth(free_bytes, 1).unwrap();
    assert!(bandwidth.is_finite() && bandwidth > 0.0, "{bandwidth}");
}
