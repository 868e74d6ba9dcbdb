// Runs Proofwright's CUDA kernels on the host (cuda_host.h) against naive references: RMSNorm,
// SiLU·mul, rope with per-head norms and BF16 cache writes, the decode linear kernel (F32 and
// BF16 weights, 1 to SKINNY_MAX_ROWS rows, odd shapes, bias, accumulate), log-probabilities,
// prefill and split-K decode attention over a shuffled paged cache (grouped heads, windows,
// several partitions, groups larger than one block), and sampling (greedy with ties, top-k,
// top-p, ties at the top-k threshold). Exit status 0 when every check passes. Built by `run`.
#include "../elementwise.cu"
#include "../rope.cu"
#include "../linear.cu"
#include "../attention.cu"
#include "../sampling.cu"
#include <cstdio>
#include <random>
#include <map>
static std::mt19937_64 rng(42);
static float uniform(float lo, float hi) { return std::uniform_real_distribution<float>(lo, hi)(rng); }
static int failures = 0;
#define CHECK(cond, ...) do { if (!(cond)) { ++failures; if (failures < 30) { printf("FAIL %s:%d: ", __FILE__, __LINE__); printf(__VA_ARGS__); printf("\n"); } } } while (0)
static u16 to_bf16(float v) { return float_to_bf16(v); }

void test_linear() {
  int shapes[][2] = {{64, 40}, {136, 96}, {37, 23}, {512, 130}};
  for (auto& shape : shapes) for (int dtype = 0; dtype < 2; ++dtype) for (int rows = 1; rows <= SKINNY_MAX_ROWS; ++rows) for (int mode = 0; mode < 2; ++mode) {
    int k = shape[0], m = shape[1];
    std::vector<float> x(rows * k), wf(m * k), bias(m), out(rows * m), initial(rows * m);
    std::vector<u16> wb(m * k);
    for (auto& v : x) v = uniform(-1, 1);
    for (int i = 0; i < m * k; ++i) { float v = uniform(-1, 1); wb[i] = to_bf16(v); wf[i] = dtype == 0 ? v : bf16_to_float(wb[i]); }
    for (auto& v : bias) v = uniform(-1, 1);
    for (auto& v : initial) v = uniform(-1, 1);
    out = initial;
    int cols = columns_per_warp(rows) * LINEAR_WARPS;
    dim3 grid{(unsigned)((m + cols - 1) / cols)};
    const float* b = mode ? bias.data() : nullptr;
    if (dtype == 0) launch(grid, dim3{LINEAR_WARPS * 32}, [&] { linear_skinny_f32(x.data(), wf.data(), b, out.data(), rows, k, m, mode); });
    else launch(grid, dim3{LINEAR_WARPS * 32}, [&] { linear_skinny_bf16(x.data(), wb.data(), b, out.data(), rows, k, m, mode); });
    for (int r = 0; r < rows; ++r) for (int j = 0; j < m; ++j) {
      double sum = 0, scale = 1; for (int i = 0; i < k; ++i) { sum += (double)x[r * k + i] * wf[j * k + i]; scale += fabs((double)x[r * k + i] * wf[j * k + i]); }
      if (mode) sum += bias[j] + initial[r * m + j];
      CHECK(fabs(out[r * m + j] - sum) <= 1e-4 * scale, "linear dtype %d k %d m %d rows %d mode %d [%d,%d]: %f vs %f", dtype, k, m, rows, mode, r, j, out[r * m + j], sum);
    }
  }
  printf("linear done\n");
}

void test_norm_and_elementwise() {
  int rows = 3, width = 300;
  std::vector<float> x(rows * width), w(width), out(rows * width);
  for (auto& v : x) v = uniform(-1, 1); for (auto& v : w) v = uniform(0.5, 1.5);
  launch(dim3{(unsigned)rows}, dim3{NORM_THREADS}, [&] { rms_norm(x.data(), w.data(), out.data(), width, 1e-6f); });
  for (int r = 0; r < rows; ++r) { double ms = 0; for (int i = 0; i < width; ++i) ms += (double)x[r*width+i]*x[r*width+i]; ms /= width; double inv = 1/sqrt(ms + 1e-6);
    for (int i = 0; i < width; ++i) CHECK(fabs(out[r*width+i] - w[i]*x[r*width+i]*inv) < 1e-5, "rms_norm"); }
  std::vector<float> gu(rows * 2 * width), act(rows * width);
  for (auto& v : gu) v = uniform(-3, 3);
  launch(dim3{4}, dim3{ELEMENTWISE_THREADS}, [&] { silu_mul(gu.data(), act.data(), width, (i64)rows * width); });
  for (int r = 0; r < rows; ++r) for (int i = 0; i < width; ++i) { double g = gu[r*2*width+i], u = gu[r*2*width+width+i]; CHECK(fabs(act[r*width+i] - g/(1+exp(-g))*u) < 1e-5, "silu"); }
  printf("norm done\n");
}

// Attention: random K/V in a paged pool, random queries; compare prefill and decode with a
// naive reference.
void test_attention(int n_heads, int n_kv, int dim, int window, std::vector<std::pair<int,int>> seqs) {
  int group = n_heads / n_kv;
  int n_blocks = 0; for (auto& s : seqs) n_blocks += (s.first + s.second + KV_BLOCK_SIZE - 1) / KV_BLOCK_SIZE; n_blocks += 3;
  std::vector<int> order(n_blocks - 1); for (int i = 0; i < n_blocks - 1; ++i) order[i] = i + 1; std::shuffle(order.begin(), order.end(), rng);
  int width = 0; std::vector<std::vector<u32>> tables; int next = 0;
  for (auto& s : seqs) { int nb = (s.first + s.second + KV_BLOCK_SIZE - 1) / KV_BLOCK_SIZE; std::vector<u32> t; for (int b = 0; b < nb; ++b) t.push_back(order[next++]); width = std::max(width, nb); tables.push_back(t); }
  std::vector<u32> table_words(seqs.size() * width, 0);
  for (size_t s = 0; s < seqs.size(); ++s) for (size_t b = 0; b < tables[s].size(); ++b) table_words[s * width + b] = tables[s][b];
  size_t plane = (size_t)n_blocks * n_kv * KV_BLOCK_SIZE * dim;
  std::vector<float> keys(plane), values(plane);
  for (auto& v : keys) v = uniform(-1, 1); for (auto& v : values) v = uniform(-1, 1);
  auto kv_at = [&](std::vector<float>& pool, int s, int pos, int h, int d) { u32 slot = tables[s][pos / KV_BLOCK_SIZE] * KV_BLOCK_SIZE + pos % KV_BLOCK_SIZE; return pool[kv_offset(slot, h, n_kv, dim) + d]; };
  int n_rows = 0; for (auto& s : seqs) n_rows += s.second;
  int q_dim = n_heads * dim;
  std::vector<float> q(n_rows * q_dim); for (auto& v : q) v = uniform(-1, 1);
  std::vector<QueryTile> tiles; std::vector<std::tuple<int,int,int>> row_info; // seq, pos
  int row = 0;
  for (size_t s = 0; s < seqs.size(); ++s) { int old = seqs[s].first, nw = seqs[s].second;
    for (int o = 0; o < nw; o += PREFILL_QUERY_TILE) tiles.push_back(QueryTile{(int)s, row + o, std::min(PREFILL_QUERY_TILE, nw - o), old + o});
    for (int o = 0; o < nw; ++o) row_info.push_back({(int)s, old + o, 0});
    row += nw; }
  float scale = 1.0f / sqrtf((float)dim);
  auto reference = [&](int r, int h) { auto [s, pos, _] = row_info[r]; int kvh = h / group; int first = window > 0 ? std::max(0, pos - window + 1) : 0;
    std::vector<double> sc; for (int p = first; p <= pos; ++p) { double d = 0; for (int i = 0; i < dim; ++i) d += (double)q[r*q_dim + h*dim + i] * kv_at(keys, s, p, kvh, i); sc.push_back(d * scale); }
    double mx = *std::max_element(sc.begin(), sc.end()); double tot = 0; for (auto& v : sc) { v = exp(v - mx); tot += v; }
    std::vector<double> out(dim, 0); for (int p = first; p <= pos; ++p) for (int i = 0; i < dim; ++i) out[i] += sc[p - first] / tot * kv_at(values, s, p, kvh, i);
    return out; };
  std::vector<float> out(n_rows * q_dim, -7);
  launch(dim3{(unsigned)tiles.size(), (unsigned)n_heads}, dim3{ATTENTION_THREADS}, [&] { attention_prefill_f32(q.data(), keys.data(), values.data(), table_words.data(), tiles.data(), out.data(), n_heads, n_kv, dim, width, window, scale); });
  for (int r = 0; r < n_rows; ++r) for (int h = 0; h < n_heads; ++h) { auto e = reference(r, h); for (int i = 0; i < dim; ++i) CHECK(fabs(out[r*q_dim+h*dim+i] - e[i]) < 1e-4, "prefill heads %d/%d dim %d window %d row %d head %d [%d]: %f vs %f", n_heads, n_kv, dim, window, r, h, i, out[r*q_dim+h*dim+i], e[i]); }
  // decode: the last new row of each sequence
  std::vector<float> dq; std::vector<u32> lens; std::vector<int> last_rows; row = 0;
  for (size_t s = 0; s < seqs.size(); ++s) { row += seqs[s].second; last_rows.push_back(row - 1); lens.push_back(seqs[s].first + seqs[s].second); for (int i = 0; i < q_dim; ++i) dq.push_back(q[(row - 1) * q_dim + i]); }
  int max_len = 0; for (auto l : lens) max_len = std::max<int>(max_len, l);
  int n_splits = (width * KV_BLOCK_SIZE + DECODE_PARTITION - 1) / DECODE_PARTITION;
  int ns = seqs.size(); int chunks = (group + MAX_GROUP_CHUNK - 1) / MAX_GROUP_CHUNK;
  std::vector<float> po(ns * n_heads * n_splits * dim, NAN), pm(ns * n_heads * n_splits, NAN), ps(ns * n_heads * n_splits, NAN), dout(ns * q_dim, -7);
  launch(dim3{(unsigned)n_splits, (unsigned)(n_kv * chunks), (unsigned)ns}, dim3{ATTENTION_THREADS}, [&] { attention_decode_f32(dq.data(), keys.data(), values.data(), table_words.data(), lens.data(), po.data(), pm.data(), ps.data(), n_heads, n_kv, dim, width, window, n_splits, scale); });
  launch(dim3{(unsigned)n_heads, (unsigned)ns}, dim3{ATTENTION_THREADS}, [&] { attention_decode_reduce(po.data(), pm.data(), ps.data(), dout.data(), n_heads, dim, n_splits); });
  for (int s = 0; s < ns; ++s) for (int h = 0; h < n_heads; ++h) { auto e = reference(last_rows[s], h); for (int i = 0; i < dim; ++i) CHECK(fabs(dout[s*q_dim+h*dim+i] - e[i]) < 1e-4, "decode heads %d/%d dim %d window %d seq %d head %d [%d] splits %d: %f vs %f", n_heads, n_kv, dim, window, s, h, i, n_splits, dout[s*q_dim+h*dim+i], e[i]); }
  printf("attention %d/%d dim %d window %d done\n", n_heads, n_kv, dim, window);
}

void test_rope() {
  int n_heads = 4, n_kv = 2, dim = 16, half = 8, n = 5, n_blocks = 4;
  int row_width = (n_heads + 2 * n_kv) * dim;
  std::vector<float> qkv(n * row_width), cs(n * half), sn(n * half), qn(dim), kn(dim), queries(n * n_heads * dim);
  for (auto& v : qkv) v = uniform(-1, 1); for (int i = 0; i < n * half; ++i) { float a = uniform(0, 6); cs[i] = cosf(a); sn[i] = sinf(a); }
  for (auto& v : qn) v = uniform(0.5, 1.5); for (auto& v : kn) v = uniform(0.5, 1.5);
  std::vector<u32> slots = {17, 3, 40, 63, 20};
  size_t plane = (size_t)n_blocks * n_kv * KV_BLOCK_SIZE * dim;
  std::vector<u16> kc(plane), vc(plane);
  launch(dim3{(unsigned)n, (unsigned)(n_heads + n_kv)}, dim3{ROPE_THREADS}, [&] { qkv_prepare_bf16(qkv.data(), qn.data(), kn.data(), cs.data(), sn.data(), slots.data(), queries.data(), kc.data(), vc.data(), n_heads, n_kv, dim, 1e-6f); });
  for (int t = 0; t < n; ++t) for (int h = 0; h < n_heads + n_kv; ++h) {
    std::vector<double> v(dim); for (int i = 0; i < dim; ++i) v[i] = qkv[t * row_width + h * dim + i];
    const std::vector<float>& nw = h < n_heads ? qn : kn; double ms = 0; for (auto x : v) ms += x * x; ms /= dim; double inv = 1 / sqrt(ms + 1e-6); for (int i = 0; i < dim; ++i) v[i] = nw[i] * v[i] * inv;
    std::vector<double> r(dim); for (int i = 0; i < half; ++i) { r[i] = v[i] * cs[t*half+i] - v[i+half] * sn[t*half+i]; r[i+half] = v[i+half] * cs[t*half+i] + v[i] * sn[t*half+i]; }
    for (int i = 0; i < dim; ++i) {
      if (h < n_heads) CHECK(fabs(queries[(t * n_heads + h) * dim + i] - r[i]) < 1e-5, "rope q");
      else { int kvh = h - n_heads; i64 off = kv_offset(slots[t], kvh, n_kv, dim) + i; CHECK(fabs(bf16_to_float(kc[off]) - r[i]) < 1e-2 * (1 + fabs(r[i])), "rope k t %d h %d i %d: %f vs %f", t, kvh, i, bf16_to_float(kc[off]), r[i]);
        CHECK(vc[off] == to_bf16(qkv[t * row_width + (n_heads + n_kv + kvh) * dim + i]), "rope v"); }
    }
  }
  printf("rope done\n");
}

void test_sampling() {
  int vocab = 5003, n_rows = 64;
  std::vector<float> logits(vocab); for (auto& v : logits) v = uniform(-4, 4);
  logits[17] = 9; logits[4001] = 9; // ties at the top
  logits[100] = logits[101] = logits[102] = 2.5f; // ties in the middle
  std::vector<double> u(n_rows); for (int i = 0; i < n_rows; ++i) u[i] = (i + 0.5) / n_rows;
  std::vector<u32> tokens(n_rows);
  auto run = [&](float t, float p, int k) { float params[3] = {t, p, (float)k}; launch(dim3{(unsigned)n_rows}, dim3{SAMPLING_THREADS}, [&] { sample_rows(logits.data(), 0, vocab, params, u.data(), tokens.data()); }); };
  run(0, 1, 0); for (auto t : tokens) CHECK(t == 17, "greedy %u", t);
  struct P { float t, p; int k; } cases[] = {{1, 1, 0}, {0.7f, 1, 50}, {1.3f, 0.9f, 0}, {1, 0.5f, 40}, {1, 1, 1}, {2, 0.3f, 0}};
  for (auto c : cases) {
    run(c.t, c.p, c.k);
    std::vector<float> keys(vocab); for (int i = 0; i < vocab; ++i) keys[i] = logits[i] / c.t;
    std::vector<int> order(vocab); for (int i = 0; i < vocab; ++i) order[i] = i;
    std::sort(order.begin(), order.end(), [&](int a, int b) { return keys[a] != keys[b] ? keys[a] > keys[b] : a < b; });
    if (c.k > 0 && c.k < vocab) order.resize(c.k);
    double mx = keys[order[0]]; std::vector<double> mass; double tot = 0; for (int t : order) { mass.push_back(exp(keys[t] - mx)); tot += mass.back(); }
    size_t keep = order.size(); if (c.p < 1) { double cum = 0; for (size_t i = 0; i < order.size(); ++i) { cum += mass[i] / tot; if (cum >= c.p) { keep = i + 1; break; } } }
    std::vector<std::pair<int,double>> kept; double kt = 0; for (size_t i = 0; i < keep; ++i) { kept.push_back({order[i], mass[i]}); kt += mass[i]; }
    std::sort(kept.begin(), kept.end());
    std::vector<u32> expected; std::vector<double> bounds; double cum = 0; for (auto& [tok, m] : kept) { double end = cum + m / kt; bounds.push_back(end); while (expected.size() < (size_t)n_rows && u[expected.size()] < end) expected.push_back(tok); cum = end; }
    while (expected.size() < (size_t)n_rows) expected.push_back(kept.back().first);
    int mism = 0; for (int r = 0; r < n_rows; ++r) if (tokens[r] != expected[r]) { bool near = false; for (auto b : bounds) if (fabs(b - u[r]) < 1e-5) near = true; if (!near) { ++mism; CHECK(false, "sample t %f p %f k %d row %d: got %u expected %u", c.t, c.p, c.k, r, tokens[r], expected[r]); } }
    printf("sampling t %.1f p %.1f k %d: kept %zu, mismatches %d\n", c.t, c.p, c.k, kept.size(), mism);
  }
  // top-k with ties at the threshold: keys 100..102 all 2.5; choose k so the threshold falls in them.
  {
    std::vector<float> l2(vocab, -10); l2[5] = 5; l2[200] = 4; l2[100] = l2[101] = l2[102] = 3; std::swap(logits, l2);
    run(1, 1, 4); // keeps 5, 200, 100, 101
    std::map<u32,int> seen; for (auto t : tokens) seen[t]++;
    for (auto [t, c] : seen) CHECK(t == 5 || t == 200 || t == 100 || t == 101, "top-k tie kept %u", t);
    CHECK(seen.count(101) && !seen.count(102), "tie limit");
    run(1, 0.99f, 0); // top-p 0.99 on these: mass of 5 is largest
    std::swap(logits, l2);
    printf("ties done\n");
  }
}

void test_log_probs() {
  int rows = 3, vocab = 1000; std::vector<float> l(rows * vocab); for (auto& v : l) v = uniform(-20, 20);
  std::vector<u32> targets = {5, 999, 0}; std::vector<float> out(rows);
  launch(dim3{(unsigned)rows}, dim3{SAMPLING_THREADS}, [&] { gather_log_probs(l.data(), vocab, targets.data(), out.data()); });
  for (int r = 0; r < rows; ++r) { float mx = -1e30; for (int i = 0; i < vocab; ++i) mx = std::max(mx, l[r*vocab+i]); double t = 0; for (int i = 0; i < vocab; ++i) t += exp((double)(l[r*vocab+i] - mx)); CHECK(fabs(out[r] - (l[r*vocab+targets[r]] - mx - log(t))) < 1e-4, "log prob"); }
  printf("log probs done\n");
}

int main() {
  setvbuf(stdout, NULL, _IONBF, 0);
  test_norm_and_elementwise();
  test_rope();
  test_linear();
  test_log_probs();
  test_attention(8, 2, 64, 0, {{37, 20}, {0, 5}, {16, 1}});
  test_attention(4, 2, 128, 7, {{10, 30}, {3, 2}});
  test_attention(12, 1, 32, 0, {{2 * DECODE_PARTITION + 40, 3}, {1, 1}});
  test_attention(4, 2, 16, 5, {{5, 11}});
  test_sampling();
  printf("failures: %d\n", failures);
  return failures != 0;
}
