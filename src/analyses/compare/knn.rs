//! Exact Euclidean neighbours by brute force in blocks of rows, for the
//! neighbourhood measures: the TwoNN intrinsic dimension and the
//! information imbalance.
//!
//! Squared distances of a block of `b` query rows to all `n` rows come from
//! one product, `‖x_i‖² + ‖x_j‖² − 2 x_i·x_j` (clamped at 0), so a pass
//! costs `n²·d` multiply-adds and holds `b × n` distances per thread at a
//! time (`b` = 256 rows, fewer past 65,536 rows to stay within 128 MB),
//! never the `n × n` matrix: memory is `O(n·(d + b))`. Blocks run in parallel;
//! every result is an index, a count or one row's own arithmetic, so the
//! numbers do not depend on the thread count. A row is never its own
//! neighbour (excluded by index, so a duplicate row is a neighbour at
//! distance 0).

use ndarray::{s, Array1, Array2, ArrayView2, Axis};
use rayon::prelude::*;

use crate::linalg;

/// Query rows per block, at most: a block's distances are held per thread.
const BLOCK: usize = 256;

/// Distances held per block, at most (128 MB of f64): blocks shrink as n
/// grows, down to 16 rows.
const BLOCK_VALUES: usize = 1 << 24;

/// A representation prepared for neighbour searches: its rows and their
/// squared norms.
pub struct Points<'a> {
    x: ArrayView2<'a, f64>,
    sq: Array1<f64>,
}

impl<'a> Points<'a> {
    pub fn new(x: ArrayView2<'a, f64>) -> Points<'a> {
        let sq = x.rows().into_iter().map(|r| r.dot(&r)).collect();
        Points { x, sq }
    }

    pub fn len(&self) -> usize {
        self.x.nrows()
    }

    pub fn is_empty(&self) -> bool {
        self.x.nrows() == 0
    }

    /// Squared distances of rows `start..start + b` to every row (`b × n`).
    fn block(&self, start: usize, b: usize) -> Array2<f64> {
        let q = self.x.slice(s![start..start + b, ..]);
        let mut d = linalg::matmul(q, self.x.t());
        for (i, mut row) in d.axis_iter_mut(Axis(0)).enumerate() {
            let si = self.sq[start + i];
            for (v, &sj) in row.iter_mut().zip(self.sq.iter()) {
                *v = (si + sj - 2.0 * *v).max(0.0);
            }
        }
        d
    }
}

/// Run `f(start, distances)` on every block of query rows, in parallel;
/// the results in block order.
fn blocks<T: Send>(p: &Points<'_>, f: impl Fn(usize, &Array2<f64>) -> T + Sync) -> Vec<T> {
    let n = p.len();
    let rows = (BLOCK_VALUES / n.max(1)).clamp(16, BLOCK);
    let starts: Vec<usize> = (0..n).step_by(rows).collect();
    starts
        .into_par_iter()
        .map(|start| {
            let b = rows.min(n - start);
            f(start, &p.block(start, b))
        })
        .collect()
}

/// Each row's nearest and second-nearest other row: the index of the
/// nearest (ties: the lower index) and both distances.
#[derive(Debug, Clone, PartialEq)]
pub struct Nearest {
    pub index: Vec<usize>,
    pub r1: Vec<f64>,
    pub r2: Vec<f64>,
}

/// [`Nearest`] of every row of `p` (needs at least 3 rows).
pub fn nearest(p: &Points<'_>) -> Nearest {
    let parts = blocks(p, |start, d| {
        d.axis_iter(Axis(0))
            .enumerate()
            .map(|(i, row)| {
                let me = start + i;
                let (mut j1, mut d1, mut d2) = (usize::MAX, f64::INFINITY, f64::INFINITY);
                for (j, &v) in row.iter().enumerate() {
                    if j == me {
                        continue;
                    }
                    if v < d1 {
                        d2 = d1;
                        d1 = v;
                        j1 = j;
                    } else if v < d2 {
                        d2 = v;
                    }
                }
                (j1, d1.sqrt(), d2.sqrt())
            })
            .collect::<Vec<_>>()
    });
    let mut out = Nearest {
        index: Vec::with_capacity(p.len()),
        r1: Vec::with_capacity(p.len()),
        r2: Vec::with_capacity(p.len()),
    };
    for (j, a, b) in parts.into_iter().flatten() {
        out.index.push(j);
        out.r1.push(a);
        out.r2.push(b);
    }
    out
}

/// For every ordered pair (`a`, `b`) of representations of the same rows,
/// with `a ≠ b`: each row `i`'s rank, under `b`'s distances, of its nearest
/// neighbour under `a` (rank 1: `b`'s nearest; ties in `b`'s distances
/// rank the lower row first, as a stable sort would). `out[a][b][i]`; the
/// diagonal is left empty.
pub fn ranks(points: &[Points<'_>], nearest: &[Nearest]) -> Vec<Vec<Vec<u32>>> {
    let m = points.len();
    let mut out = vec![vec![Vec::new(); m]; m];
    if m < 2 {
        return out;
    }
    for (b, pb) in points.iter().enumerate() {
        let parts = blocks(pb, |start, d| {
            let mut mine = vec![Vec::with_capacity(d.nrows()); m];
            for (i, row) in d.axis_iter(Axis(0)).enumerate() {
                let me = start + i;
                for (a, na) in nearest.iter().enumerate() {
                    if a == b {
                        continue;
                    }
                    let j = na.index[me];
                    let t = row[j];
                    let mut rank = 1u32;
                    for (l, &v) in row.iter().enumerate() {
                        if l != me && l != j && (v < t || (v == t && l < j)) {
                            rank += 1;
                        }
                    }
                    mine[a].push(rank);
                }
            }
            mine
        });
        for part in parts {
            for (a, r) in part.into_iter().enumerate() {
                out[a][b].extend(r);
            }
        }
    }
    out
}

/// The information imbalance `Δ(a → b) = 2/n · mean rank` (Glielmo et al.
/// 2022) from the mean rank: about 0 when `a`'s nearest neighbours are
/// `b`'s, about 1 when they are random under `b`.
pub fn imbalance(mean_rank: f64, n: usize) -> f64 {
    2.0 * mean_rank / n as f64
}

/// The mean of `ranks`.
pub fn mean_rank(ranks: &[u32]) -> f64 {
    ranks.iter().map(|&r| f64::from(r)).sum::<f64>() / ranks.len() as f64
}

/// The TwoNN intrinsic dimension (Facco et al. 2017) from every row's two
/// nearest distances, as DADApy's `compute_id_2NN` computes it: `μ = r2/r1`,
/// the `fraction` smallest `μ` kept, and the slope through the origin of
/// `−log(1 − i/n)` (i = 1…n_kept) against `log μ` (sorted). `None` when a
/// nearest distance is 0 (duplicate rows) or fewer than 3 rows are kept.
pub fn two_nn(near: &Nearest, fraction: f64) -> Option<f64> {
    let n = near.r1.len();
    if near
        .r1
        .iter()
        .any(|&r| r.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater))
    {
        return None;
    }
    let mut mu: Vec<f64> = near.r1.iter().zip(&near.r2).map(|(a, b)| b / a).collect();
    mu.sort_by(f64::total_cmp);
    let kept = (n as f64 * fraction) as usize;
    if kept < 3 {
        return None;
    }
    let (mut sxy, mut sxx) = (0.0, 0.0);
    for (i, m) in mu[..kept].iter().enumerate() {
        let x = m.ln();
        let y = -(1.0 - (i + 1) as f64 / n as f64).ln();
        sxy += x * y;
        sxx += x * x;
    }
    let id = sxy / sxx;
    id.is_finite().then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn random(n: usize, d: usize, seed: u64) -> Array2<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Array2::from_shape_fn((n, d), |_| rng.random_range(-1.0..1.0))
    }

    fn dist(x: &Array2<f64>, i: usize, j: usize) -> f64 {
        (&x.row(i) - &x.row(j)).mapv(|v| v * v).sum().sqrt()
    }

    #[test]
    fn nearest_and_ranks_match_a_direct_search() {
        // 600 rows: more than two blocks, the last one partial.
        let a = random(600, 5, 1);
        let mut b = random(600, 3, 2);
        b.column_mut(0).scaled_add(1.0, &a.column(0));
        let (pa, pb) = (Points::new(a.view()), Points::new(b.view()));
        let na = nearest(&pa);
        let nb = nearest(&pb);
        let mut want = 0u64;
        for i in 0..600 {
            let mut ds: Vec<(f64, usize)> = (0..600)
                .filter(|&j| j != i)
                .map(|j| (dist(&a, i, j), j))
                .collect();
            ds.sort_by(|x, y| x.0.total_cmp(&y.0));
            assert_eq!(na.index[i], ds[0].1);
            assert!((na.r1[i] - ds[0].0).abs() < 1e-12);
            assert!((na.r2[i] - ds[1].0).abs() < 1e-12);
            let j = na.index[i];
            let t = dist(&b, i, j);
            want += 1
                + (0..600)
                    .filter(|&l| l != i && l != j && dist(&b, i, l) < t)
                    .count() as u64;
        }
        let r = ranks(&[pa, pb], &[na, nb]);
        assert_eq!(r[0][1].iter().map(|&v| u64::from(v)).sum::<u64>(), want);
        assert!(r[0][0].is_empty());
    }

    #[test]
    fn imbalance_of_a_representation_with_itself_is_its_floor() {
        // A rotated copy keeps every distance: rank 1 for every row.
        let a = random(300, 4, 3);
        let q = linalg::qr_pivoted(random(4, 4, 4).view(), None).q;
        let r = linalg::matmul(a.view(), q.view());
        let points = [Points::new(a.view()), Points::new(r.view())];
        let near: Vec<Nearest> = points.iter().map(nearest).collect();
        let r = ranks(&points, &near);
        assert!(r[0][1].iter().all(|&v| v == 1));
        assert!(r[1][0].iter().all(|&v| v == 1));
        assert!((imbalance(mean_rank(&r[0][1]), 300) - 2.0 / 300.0).abs() < 1e-15);
        // Independent noise: about 1.
        let z = random(300, 4, 5);
        let points = [Points::new(a.view()), Points::new(z.view())];
        let near: Vec<Nearest> = points.iter().map(nearest).collect();
        let d = imbalance(mean_rank(&ranks(&points, &near)[0][1]), 300);
        assert!(d > 0.8 && d < 1.2, "{d}");
    }

    #[test]
    fn two_nn_recovers_the_dimension_of_a_plane_in_five_dimensions() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let x = Array2::from_shape_fn((2000, 5), |(_, j)| {
            if j < 2 {
                rng.random_range(0.0..1.0)
            } else {
                0.0
            }
        });
        let id = two_nn(&nearest(&Points::new(x.view())), 0.9).unwrap();
        assert!((id - 2.0).abs() < 0.15, "{id}");
        let mut dup = x.clone();
        dup.row_mut(1).assign(&x.row(0));
        assert_eq!(two_nn(&nearest(&Points::new(dup.view())), 0.9), None);
    }
}
