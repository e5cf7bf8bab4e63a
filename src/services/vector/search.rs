//! The exact nearest-neighbour kernel: vectors stored row by row in one contiguous
//! `f32` buffer with their squared norms precomputed, a dot product written so the
//! compiler vectorises it (eight independent accumulators), and a top-k selection with a total, caller-given tie order.
//!
//! Every metric reduces to one dot product per stored row: cosine is the dot over the
//! two norms, squared Euclidean distance is `|q|² + |r|² - 2 q·r`. Ranking uses a key
//! where higher is closer (similarity, or the negated squared distance); each wire
//! dialect turns that key into its own score (Pinecone's squared distance, Qdrant's
//! distance, Chroma's `1 - cos`).
//!
//! Not here: metadata filters (the caller passes an `allow` predicate), ids, JSON.
//! This file depends on `std` alone, so it can be compiled on its own with `rustc -O`
//! to time it (see the `#[ignore]` test in `store.rs` and the README).
//!
//! # Design
//! Rejected: an approximate index (HNSW). Tests want the answer a careful reader would
//! compute by hand, and a linear scan over ten thousand rows is a few megabytes of
//! reads; an index would make results depend on build order and parameters.

use std::cmp::Ordering;

/// How a collection measures closeness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Cosine similarity (higher is closer).
    Cosine,
    /// Dot product (higher is closer).
    Dot,
    /// Euclidean distance (lower is closer).
    Euclidean,
}

impl Metric {
    /// Parse the spellings the three databases and the reference use.
    pub fn parse(s: &str) -> Option<Metric> {
        match s.to_ascii_lowercase().as_str() {
            "cosine" => Some(Metric::Cosine),
            "dot" | "dotproduct" | "ip" | "inner_product" => Some(Metric::Dot),
            "euclidean" | "euclid" | "l2" => Some(Metric::Euclidean),
            _ => None,
        }
    }
}

/// Rows of one dimension, contiguous, with each row's squared norm.
#[derive(Debug, Clone, Default)]
pub struct Matrix {
    dim: usize,
    data: Vec<f32>,
    norms2: Vec<f32>,
    /// The same rows quantised to `i8` (a quarter of the bytes), for the first pass.
    codes: Vec<i8>,
    /// Per row: the quantisation scale, the norm of the codes, the norm of the error.
    quant: Vec<Quant>,
}

/// How a row was quantised: `row ≈ scale * codes`, with `|row - scale * codes| = err`.
#[derive(Debug, Clone, Copy, Default)]
struct Quant {
    scale: f32,
    codes_norm: f32,
    err: f32,
}

/// Quantise `v` into `out` (cleared first); returns the scale and the two norms.
fn quantise(v: &[f32], out: &mut Vec<i8>) -> Quant {
    let max = v.iter().fold(0f32, |m, x| m.max(x.abs()));
    let scale = if max > 0.0 { max / 127.0 } else { 0.0 };
    let (mut cn, mut en) = (0f64, 0f64);
    for &x in v {
        let c = if scale > 0.0 {
            (x / scale).round().clamp(-127.0, 127.0)
        } else {
            0.0
        };
        out.push(c as i8);
        cn += (c as f64) * (c as f64);
        let e = x as f64 - scale as f64 * c as f64;
        en += e * e;
    }
    Quant {
        scale,
        codes_norm: cn.sqrt() as f32,
        err: en.sqrt() as f32,
    }
}

impl Matrix {
    /// An empty matrix of rows of `dim` values.
    pub fn new(dim: usize) -> Matrix {
        Matrix {
            dim,
            ..Matrix::default()
        }
    }

    /// Values per row.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.norms2.len()
    }

    /// No rows.
    pub fn is_empty(&self) -> bool {
        self.norms2.is_empty()
    }

    /// Row `i`'s values.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// Append a row (the caller checked its length); returns its index.
    pub fn push(&mut self, values: &[f32]) -> usize {
        debug_assert_eq!(values.len(), self.dim);
        self.data.extend_from_slice(values);
        self.norms2.push(dot(values, values));
        let q = quantise(values, &mut self.codes);
        self.quant.push(q);
        self.norms2.len() - 1
    }

    /// Replace row `i`.
    pub fn set(&mut self, i: usize, values: &[f32]) {
        let dim = self.dim;
        self.data[i * dim..(i + 1) * dim].copy_from_slice(values);
        self.norms2[i] = dot(values, values);
        let mut codes = Vec::with_capacity(dim);
        self.quant[i] = quantise(values, &mut codes);
        self.codes[i * dim..(i + 1) * dim].copy_from_slice(&codes);
    }

    /// Remove row `i` by moving the last row into its place (rows stay contiguous).
    pub fn swap_remove(&mut self, i: usize) {
        let last = self.len() - 1;
        if i != last {
            let dim = self.dim;
            let (head, tail) = self.data.split_at_mut(last * dim);
            head[i * dim..(i + 1) * dim].copy_from_slice(&tail[..dim]);
            let (head, tail) = self.codes.split_at_mut(last * dim);
            head[i * dim..(i + 1) * dim].copy_from_slice(&tail[..dim]);
            self.norms2[i] = self.norms2[last];
            self.quant[i] = self.quant[last];
        }
        self.data.truncate(last * self.dim);
        self.codes.truncate(last * self.dim);
        self.norms2.pop();
        self.quant.pop();
    }

    /// The ranking key of row `i` for `query` (higher is closer); `qnorm2` is the
    /// query's squared norm.
    pub fn key(&self, metric: Metric, query: &[f32], qnorm2: f32, i: usize) -> f32 {
        let d = dot(query, self.row(i));
        key_of(metric, d, qnorm2, self.norms2[i])
    }
}

/// The ranking key from a dot product and the two squared norms.
pub fn key_of(metric: Metric, dot: f32, qnorm2: f32, rnorm2: f32) -> f32 {
    match metric {
        Metric::Dot => dot,
        Metric::Cosine => {
            let n = (qnorm2 * rnorm2).sqrt();
            if n > 0.0 {
                dot / n
            } else {
                0.0
            }
        }
        Metric::Euclidean => -(qnorm2 + rnorm2 - 2.0 * dot).max(0.0),
    }
}

/// Squared norm of `v`.
pub fn norm2(v: &[f32]) -> f32 {
    dot(v, v)
}

/// Below this many rows the first pass costs more than it saves.
const PREFILTER_MIN_ROWS: usize = 512;

/// The `k` rows closest to `query` among those `allow` admits, closest first, each
/// with its key. Equal keys are ordered by `tie` (a total order over row indices, such
/// as the rows' ids), so the answer never depends on storage order.
///
/// # Design
/// Exact, yet most rows are never read in full. A first pass over the `i8` codes gives
/// each row an interval certain to hold its key (the quantisation errors of row and
/// query are bounded by Cauchy-Schwarz with norms kept per row); the `k`-th largest
/// lower bound `L` is then a floor under the `k`-th best key, so only rows whose upper
/// bound reaches `L` can be in the answer, and only those are scored in `f32`. Ties at
/// the boundary are kept (their upper bound reaches `L` too), so the tie order is the
/// full scan's. [`top_k_scan`] is the plain way, held to the same answers by a test.
pub fn top_k(
    m: &Matrix,
    metric: Metric,
    query: &[f32],
    k: usize,
    allow: &dyn Fn(usize) -> bool,
    tie: &dyn Fn(usize, usize) -> Ordering,
) -> Vec<(usize, f32)> {
    if m.len() < PREFILTER_MIN_ROWS || k.saturating_mul(8) >= m.len() || !prefilter_pays() {
        return top_k_scan(m, metric, query, k, allow, tie);
    }
    top_k_prefiltered(m, metric, query, k, allow, tie)
}

/// [`top_k`] through the `i8` first pass, whatever the size (the test calls it
/// directly, so the equivalence holds on machines without AVX2 too).
fn top_k_prefiltered(
    m: &Matrix,
    metric: Metric,
    query: &[f32],
    k: usize,
    allow: &dyn Fn(usize) -> bool,
    tie: &dyn Fn(usize, usize) -> Ordering,
) -> Vec<(usize, f32)> {
    if k == 0 || m.is_empty() {
        return Vec::new();
    }
    let dim = m.dim;
    let q2 = norm2(query);
    let qn = q2.sqrt();
    let mut qcodes = Vec::with_capacity(dim);
    let qq = quantise(query, &mut qcodes);
    // Every row's code dot first, in one loop compiled for AVX2, then the bounds: a
    // call per row into an AVX2 function took 0.66 to 0.82 ms over 10,000 x 1,536
    // where the one loop takes 0.45 to 0.48 (search.rs timed alone with rustc -O).
    let mut dots = Vec::with_capacity(m.len());
    dots_i8(&m.codes, &qcodes, dim, &mut dots);
    // (row, lower, upper) for every admitted row.
    let mut bounds: Vec<(usize, f32, f32)> = Vec::with_capacity(m.len());
    for (i, &d) in dots.iter().enumerate() {
        if !allow(i) {
            continue;
        }
        let r = m.quant[i];
        let approx = r.scale * qq.scale * d as f32;
        // |s q . f| <= s |q| |f|, |e . x| <= |e| |x|; a relative margin covers f32 rounding.
        let err = r.scale * r.codes_norm * qq.err + r.err * qn;
        let slack = err * 1.001 + (approx.abs() + err) * 1e-5 + 1e-12;
        let lo = key_of(metric, approx - slack, q2, m.norms2[i]);
        let hi = key_of(metric, approx + slack, q2, m.norms2[i]);
        // Cosine of a zero row is 0 whatever the dot; keep the interval ordered.
        bounds.push((i, lo.min(hi), lo.max(hi)));
    }
    if bounds.len() <= k {
        let mut all: Vec<(usize, f32)> = bounds
            .iter()
            .map(|&(i, _, _)| (i, m.key(metric, query, q2, i)))
            .collect();
        all.sort_by(|a, b| by_key(a, b, tie));
        return all;
    }
    let mut lows: Vec<f32> = bounds.iter().map(|b| b.1).collect();
    let (_, floor, _) = lows.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
    let floor = *floor;
    let mut scored: Vec<(usize, f32)> = bounds
        .iter()
        .filter(|b| b.2 >= floor)
        .map(|&(i, _, _)| (i, m.key(metric, query, q2, i)))
        .collect();
    select(&mut scored, k, tie);
    scored
}

/// The plain way: score every admitted row in `f32`, then select.
pub fn top_k_scan(
    m: &Matrix,
    metric: Metric,
    query: &[f32],
    k: usize,
    allow: &dyn Fn(usize) -> bool,
    tie: &dyn Fn(usize, usize) -> Ordering,
) -> Vec<(usize, f32)> {
    if k == 0 || m.is_empty() {
        return Vec::new();
    }
    let q2 = norm2(query);
    let mut scored: Vec<(usize, f32)> = Vec::with_capacity(m.len());
    for i in 0..m.len() {
        if allow(i) {
            scored.push((i, m.key(metric, query, q2, i)));
        }
    }
    select(&mut scored, k, tie);
    scored
}

fn by_key(a: &(usize, f32), b: &(usize, f32), tie: &dyn Fn(usize, usize) -> Ordering) -> Ordering {
    b.1.partial_cmp(&a.1)
        .unwrap_or(Ordering::Equal)
        .then_with(|| tie(a.0, b.0))
}

/// Keep the best `k` of `scored`, best first.
fn select(scored: &mut Vec<(usize, f32)>, k: usize, tie: &dyn Fn(usize, usize) -> Ordering) {
    if scored.len() > k {
        scored.select_nth_unstable_by(k - 1, |a, b| by_key(a, b, tie));
        scored.truncate(k);
    }
    scored.sort_by(|a, b| by_key(a, b, tie));
}

/// Each `dim`-long row of `codes` dotted with `q`, appended to `out`; exact in `i32`
/// (127² x 65,536 fits).
fn dots_i8(codes: &[i8], q: &[i8], dim: usize, out: &mut Vec<i32>) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2() {
        return dots_i8_avx2(codes, q, dim, out);
    }
    dots_i8_rows(codes, q, dim, out)
}

#[inline(always)]
fn dots_i8_rows(codes: &[i8], q: &[i8], dim: usize, out: &mut Vec<i32>) {
    // A plain loop, not `extend(map(..))`: a closure is a function of its own, and one
    // not inlined into the AVX2 copy of this loop would be compiled without AVX2.
    out.reserve(codes.len() / dim.max(1));
    for row in codes.chunks_exact(dim) {
        out.push(dot_i8_lanes(row, q));
    }
}

/// Whether the first pass pays: with AVX2 the `i8` pass reads a quarter of the bytes at
/// full width; without it (baseline x86-64 has no 8-bit multiply) it is slower than
/// the plain `f32` scan, which is then used instead.
fn prefilter_pays() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        has_avx2()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(target_arch = "x86_64")]
fn has_avx2() -> bool {
    use std::sync::OnceLock;
    static HAS: OnceLock<bool> = OnceLock::new();
    *HAS.get_or_init(|| std::is_x86_feature_detected!("avx2"))
}

/// [`dots_i8_rows`] for AVX2, written with its intrinsics: 32 codes at a time, |r|
/// times q carrying r's sign (`vpsignb`), multiplied and summed pairwise into 16 bits
/// (`vpmaddubsw`: codes are within ±127, so a pair's sum fits), then into 32-bit lanes
/// (`vpmaddwd` by ones). Left to itself, LLVM widened each code to 32 bits and
/// multiplied with `vpmulld` under fat LTO (0.8 ms for the pass over 10,000 x 1,536 in
/// the release server, `perf record`).
// The crate's second unsafe block: calling a `target_feature` function.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
fn dots_i8_avx2(codes: &[i8], q: &[i8], dim: usize, out: &mut Vec<i32>) {
    use std::arch::x86_64::*;

    #[target_feature(enable = "avx2")]
    unsafe fn wide(codes: &[i8], q: &[i8], dim: usize, out: &mut Vec<i32>) {
        let whole = dim / 32 * 32;
        let qv: Vec<__m256i> = q[..whole]
            .chunks_exact(32)
            .map(|c| _mm256_loadu_si256(c.as_ptr().cast()))
            .collect();
        let ones = _mm256_set1_epi16(1);
        out.reserve(codes.len() / dim.max(1));
        for row in codes.chunks_exact(dim) {
            let mut acc = _mm256_setzero_si256();
            for (c, &qc) in row[..whole].chunks_exact(32).zip(&qv) {
                let r = _mm256_loadu_si256(c.as_ptr().cast());
                let pairs = _mm256_maddubs_epi16(_mm256_abs_epi8(r), _mm256_sign_epi8(qc, r));
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(pairs, ones));
            }
            let s = _mm_add_epi32(
                _mm256_castsi256_si128(acc),
                _mm256_extracti128_si256(acc, 1),
            );
            let s = _mm_hadd_epi32(s, s);
            let s = _mm_hadd_epi32(s, s);
            let mut sum = _mm_cvtsi128_si32(s);
            for (x, y) in row[whole..].iter().zip(&q[whole..]) {
                sum += *x as i32 * *y as i32;
            }
            out.push(sum);
        }
    }
    // SAFETY: only reached when `has_avx2()` saw the CPU support AVX2, the one
    // requirement of `wide`. Its loads read 32 bytes from slices `chunks_exact(32)` made
    // exactly that long.
    unsafe { wide(codes, q, dim, out) }
}

#[inline(always)]
fn dot_i8_lanes(a: &[i8], b: &[i8]) -> i32 {
    // 32 lanes over equal prefixes sliced up front, then the tail: iterating the
    // chunks through `&mut` (to read their remainders after) kept the loop from being
    // unrolled, and the whole first pass took twice as long (0.95 against 0.48 ms over
    // 10,000 x 1,536, search.rs timed alone with rustc -O).
    const LANES: usize = 32;
    let n = a.len().min(b.len());
    let whole = n / LANES * LANES;
    let mut acc = [0i32; LANES];
    for (x, y) in a[..whole]
        .chunks_exact(LANES)
        .zip(b[..whole].chunks_exact(LANES))
    {
        for l in 0..LANES {
            acc[l] += x[l] as i32 * y[l] as i32;
        }
    }
    let mut sum: i32 = acc.iter().sum();
    for (x, y) in a[whole..n].iter().zip(&b[whole..n]) {
        sum += *x as i32 * *y as i32;
    }
    sum
}

/// `a · b` over equal-length slices.
///
/// Plain safe Rust: eight partial sums the compiler keeps in vector registers. (An
/// AVX2 copy chosen at run time would need `unsafe`, which the crate denies; the scan
/// of a large collection is bound by memory reads, not by the width of the adds.)
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    dot_lanes::<8>(a, b)
}

/// `N` independent partial sums, so the loop is not one long dependency chain and
/// the compiler can keep them in vector registers.
#[inline(always)]
fn dot_lanes<const N: usize>(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; N];
    let mut ca = a.chunks_exact(N);
    let mut cb = b.chunks_exact(N);
    for (x, y) in (&mut ca).zip(&mut cb) {
        for l in 0..N {
            acc[l] += x[l] * y[l];
        }
    }
    let mut tail = 0f32;
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        tail += x * y;
    }
    acc.iter().sum::<f32>() + tail
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matrix(rows: &[&[f32]]) -> Matrix {
        let mut m = Matrix::new(rows[0].len());
        for r in rows {
            m.push(r);
        }
        m
    }

    #[test]
    fn the_dot_product_matches_the_textbook_sum_for_every_length() {
        for n in 0..40 {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            let want: f32 = a.iter().zip(&b).map(|(x, y)| x * y).sum();
            assert!((dot(&a, &b) - want).abs() < 1e-4, "n={n}");
        }
    }

    #[test]
    fn each_metric_ranks_as_its_definition_says() {
        let m = matrix(&[&[1.0, 0.0], &[0.0, 1.0], &[3.0, 3.0]]);
        let q = [1.0, 0.1];
        let ids = |a: usize, b: usize| a.cmp(&b);
        let all = |_| true;
        let cos: Vec<usize> = top_k(&m, Metric::Cosine, &q, 3, &all, &ids)
            .into_iter()
            .map(|r| r.0)
            .collect();
        assert_eq!(cos, [0, 2, 1]);
        let dotr: Vec<usize> = top_k(&m, Metric::Dot, &q, 3, &all, &ids)
            .into_iter()
            .map(|r| r.0)
            .collect();
        assert_eq!(dotr, [2, 0, 1]);
        let l2 = top_k(&m, Metric::Euclidean, &q, 3, &all, &ids);
        assert_eq!(l2[0].0, 0);
        assert!((l2[0].1 + 0.01).abs() < 1e-6, "squared distance 0.01");
    }

    #[test]
    fn equal_scores_follow_the_tie_order_not_the_storage_order() {
        let m = matrix(&[&[1.0, 0.0], &[1.0, 0.0], &[1.0, 0.0], &[0.0, 1.0]]);
        let reversed = |a: usize, b: usize| b.cmp(&a);
        let got: Vec<usize> = top_k(&m, Metric::Dot, &[1.0, 0.0], 2, &|_| true, &reversed)
            .into_iter()
            .map(|r| r.0)
            .collect();
        assert_eq!(got, [2, 1]);
    }

    #[test]
    fn the_prefiltered_search_gives_the_full_scans_answer_with_ties_and_filters() {
        let mut x: u64 = 7;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            ((x >> 11) as f64 / (1u64 << 53) as f64) as f32 - 0.5
        };
        let dim = 24;
        let mut m = Matrix::new(dim);
        for i in 0..3000 {
            // Every tenth row repeats an earlier one: equal keys at every rank.
            let v: Vec<f32> = if i % 10 == 9 {
                m.row(i - 5).to_vec()
            } else {
                (0..dim).map(|_| next()).collect()
            };
            m.push(&v);
        }
        m.push(&vec![0.0; dim]);
        m.swap_remove(17);
        let ids = |a: usize, b: usize| a.cmp(&b);
        for metric in [Metric::Cosine, Metric::Dot, Metric::Euclidean] {
            for k in [1, 5, 10, 50] {
                for round in 0..5 {
                    let q: Vec<f32> = if round == 0 {
                        m.row(3).to_vec()
                    } else {
                        (0..dim).map(|_| next() * 3.0).collect()
                    };
                    let allow = |i: usize| round != 2 || i.is_multiple_of(3);
                    let fast = top_k_prefiltered(&m, metric, &q, k, &allow, &ids);
                    let slow = top_k_scan(&m, metric, &q, k, &allow, &ids);
                    assert_eq!(fast, slow, "{metric:?} k={k} round={round}");
                }
            }
        }
    }

    #[test]
    fn swap_remove_keeps_the_other_rows_and_their_norms() {
        let mut m = matrix(&[&[1.0, 0.0], &[0.0, 2.0], &[3.0, 0.0]]);
        m.swap_remove(0);
        assert_eq!(m.len(), 2);
        assert_eq!(m.row(0), &[3.0, 0.0]);
        assert_eq!(m.key(Metric::Cosine, &[1.0, 0.0], 1.0, 0), 1.0);
        m.swap_remove(1);
        assert_eq!(m.row(0), &[3.0, 0.0]);
    }
}
