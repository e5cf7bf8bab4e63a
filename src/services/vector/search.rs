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
}

impl Matrix {
    /// An empty matrix of rows of `dim` values.
    pub fn new(dim: usize) -> Matrix {
        Matrix {
            dim,
            data: Vec::new(),
            norms2: Vec::new(),
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
        self.norms2.len() - 1
    }

    /// Replace row `i`.
    pub fn set(&mut self, i: usize, values: &[f32]) {
        let dim = self.dim;
        self.data[i * dim..(i + 1) * dim].copy_from_slice(values);
        self.norms2[i] = dot(values, values);
    }

    /// Remove row `i` by moving the last row into its place (rows stay contiguous).
    pub fn swap_remove(&mut self, i: usize) {
        let last = self.len() - 1;
        if i != last {
            let dim = self.dim;
            let (head, tail) = self.data.split_at_mut(last * dim);
            head[i * dim..(i + 1) * dim].copy_from_slice(&tail[..dim]);
            self.norms2[i] = self.norms2[last];
        }
        self.data.truncate(last * self.dim);
        self.norms2.pop();
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

/// The `k` rows closest to `query` among those `allow` admits, closest first, each
/// with its key. Equal keys are ordered by `tie` (a total order over row indices, such
/// as the rows' ids), so the answer never depends on storage order.
pub fn top_k(
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
    let cmp = |a: &(usize, f32), b: &(usize, f32)| {
        b.1.partial_cmp(&a.1)
            .unwrap_or(Ordering::Equal)
            .then_with(|| tie(a.0, b.0))
    };
    if scored.len() > k {
        scored.select_nth_unstable_by(k - 1, cmp);
        scored.truncate(k);
    }
    scored.sort_by(cmp);
    scored
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
            acc[l] = x[l].mul_add(y[l], acc[l]);
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
