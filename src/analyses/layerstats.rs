//! Per-layer statistics (the authors' matscope reports them beside CKA):
//! the share of a layer's centred variance that composition explains, and
//! the effective dimension of the raw embedding and of its residual.
//!
//! With `C = (H − 1μᵀ)ᵀ(H − 1μᵀ)` the centred cross-product of a layer and
//! `C_geom` that of its composition residual (already centred: the
//! composition basis holds the constant),
//!
//! - composition share `= 1 − tr(C_geom) / tr(C) = 1 − ‖H_geom‖²_F / ‖H − 1μᵀ‖²_F`;
//! - effective dimension (participation ratio of the covariance spectrum)
//!   `= (Σλ)² / Σλ² = tr(C)² / ‖C‖²_F`, since `C` is symmetric: no
//!   eigendecomposition is needed.
//!
//! Both come from `d × d` products accumulated over row blocks read through
//! [`Rows`], never from an `n × n` matrix, so they work the same on rows
//! streamed from disk: the per-fold Gram sums of [`crate::flow::moments`],
//! which ridge reads too (one Gram pass over a layer serves both). The
//! residual's product is formed from its own rows (not as
//! `HᵀH − (QᵀH)ᵀ(QᵀH)`), which avoids the cancellation of that difference
//! when composition explains most of the variance.

use ndarray::{s, Array1, Array2};

use crate::flow::moments::Gram;
use crate::flow::rows::{Rows, BLOCK};
use crate::linalg;
use crate::report::LayerStatsRecord;

/// Row ranges of `n` rows in blocks of [`BLOCK`].
fn blocks(n: usize) -> impl Iterator<Item = Vec<usize>> {
    (0..n)
        .step_by(BLOCK)
        .map(move |i| (i..(i + BLOCK).min(n)).collect())
}

/// Column means of `x`, accumulated in f64 over row blocks.
pub fn column_means(x: &dyn Rows) -> Array1<f64> {
    let (n, d) = (x.nrows(), x.ncols());
    let mut buf = Array2::<f64>::zeros((BLOCK, d));
    let mut sum = Array1::<f64>::zeros(d);
    for rows in blocks(n) {
        let mut b = buf.slice_mut(s![..rows.len(), ..]);
        x.fill(&rows, b.view_mut());
        for row in b.rows() {
            sum += &row;
        }
    }
    if n > 0 {
        sum /= n as f64;
    }
    sum
}

/// `(X − 1μᵀ)ᵀ(X − 1μᵀ)` (`d × d`, symmetric) with `μ` = `mean`; rows are
/// centred as they are read, so no cancellation from `XᵀX − n μμᵀ`.
pub fn centred_gram(x: &dyn Rows, mean: &Array1<f64>) -> Array2<f64> {
    let d = x.ncols();
    let mut buf = Array2::<f64>::zeros((BLOCK, d));
    let mut g = Array2::<f64>::zeros((d, d));
    for rows in blocks(x.nrows()) {
        let mut b = buf.slice_mut(s![..rows.len(), ..]);
        x.fill(&rows, b.view_mut());
        b -= mean;
        linalg::gram_lower_add(b.view(), &mut g);
    }
    linalg::mirror_lower(&mut g);
    g
}

/// `(A − 1μ_aᵀ)ᵀ(B − 1μ_bᵀ)` (`d_a × d_b`), reading both in row blocks.
pub fn centred_cross(
    a: &dyn Rows,
    mean_a: &Array1<f64>,
    b: &dyn Rows,
    mean_b: &Array1<f64>,
) -> Array2<f64> {
    assert_eq!(a.nrows(), b.nrows(), "centred_cross: row counts differ");
    let (da, db) = (a.ncols(), b.ncols());
    let mut ba = Array2::<f64>::zeros((BLOCK, da));
    let mut bb = Array2::<f64>::zeros((BLOCK, db));
    let mut c = Array2::<f64>::zeros((da, db));
    for rows in blocks(a.nrows()) {
        let m = rows.len();
        let mut xa = ba.slice_mut(s![..m, ..]);
        a.fill(&rows, xa.view_mut());
        xa -= mean_a;
        let mut xb = bb.slice_mut(s![..m, ..]);
        b.fill(&rows, xb.view_mut());
        xb -= mean_b;
        linalg::matmul_into(c.view_mut(), xa.t(), xb.view(), true);
    }
    c
}

/// `tr(C)` and `‖C‖_F` of a square matrix.
pub fn trace_and_norm(c: &Array2<f64>) -> (f64, f64) {
    let trace = c.diag().sum();
    let norm = c.iter().map(|v| v * v).sum::<f64>().sqrt();
    (trace, norm)
}

/// Participation ratio `tr(C)² / ‖C‖²_F`; `None` for a zero matrix.
fn participation_ratio(trace: f64, norm: f64) -> Option<f64> {
    (norm > 0.0).then(|| (trace / norm).powi(2))
}

/// The statistics of one layer from the Gram sums of its raw rows and of
/// its composition residual over every row (the same residual the probes
/// read; [`FoldGrams::all`](crate::flow::moments::FoldGrams::all)).
pub fn layer_stats(model: &str, layer: &str, raw: Gram, geom: Gram) -> LayerStatsRecord {
    let (n, dim) = (raw.n, raw.s.len());
    let full = |g: Gram| {
        let mut c = g.centred_lower();
        linalg::mirror_lower(&mut c);
        trace_and_norm(&c)
    };
    let (tr_raw, norm_raw) = full(raw);
    let (tr_geom, norm_geom) = full(geom);
    LayerStatsRecord {
        model: model.into(),
        layer: layer.into(),
        n,
        dim,
        composition_share: (tr_raw > 0.0).then(|| 1.0 - tr_geom / tr_raw),
        effective_dim_raw: participation_ratio(tr_raw, norm_raw),
        effective_dim_geom: participation_ratio(tr_geom, norm_geom),
        intrinsic_dim_raw: None,
        intrinsic_dim_geom: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::rows::Dense;
    use ndarray::array;

    #[test]
    fn block_products_equal_the_direct_ones_across_block_boundaries() {
        let n = 2 * BLOCK + 17;
        let a = Array2::from_shape_fn((n, 3), |(i, j)| ((i * 7 + j * 13) % 11) as f64 + 1e3);
        let b = Array2::from_shape_fn((n, 2), |(i, j)| ((i * 5 + j) % 9) as f64 - 2.0);
        let (ma, mb) = (
            column_means(&Dense(a.view())),
            column_means(&Dense(b.view())),
        );
        let (ca, cb) = (&a - &ma, &b - &mb);
        let g = centred_gram(&Dense(a.view()), &ma);
        let x = centred_cross(&Dense(a.view()), &ma, &Dense(b.view()), &mb);
        for (got, want) in [(g, ca.t().dot(&ca)), (x, ca.t().dot(&cb))] {
            for (u, v) in got.iter().zip(want.iter()) {
                assert!((u - v).abs() <= 1e-9 * v.abs().max(1.0), "{u} vs {v}");
            }
        }
    }

    #[test]
    fn isotropic_data_has_full_effective_dimension_and_rank_one_has_one() {
        // Columns ±1 in a balanced design: covariance ∝ identity.
        let iso = array![[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]];
        let line = array![[1.0, 2.0], [2.0, 4.0], [3.0, 6.0], [4.0, 8.0]];
        let zero = Array2::<f64>::zeros((4, 2));
        let gram = |x: &Array2<f64>| {
            let all: Vec<usize> = (0..x.nrows()).collect();
            Gram::of(&Dense(x.view()), &all, &column_means(&Dense(x.view())))
        };
        let s = layer_stats("m", "l", gram(&iso), gram(&line));
        assert!((s.effective_dim_raw.unwrap() - 2.0).abs() < 1e-14);
        assert!((s.effective_dim_geom.unwrap() - 1.0).abs() < 1e-14);
        // tr(C_raw) = 8, tr(C_line) = 5 · 5 = 25.
        assert!((s.composition_share.unwrap() - (1.0 - 25.0 / 8.0)).abs() < 1e-14);
        let z = layer_stats("m", "l", gram(&zero), gram(&zero));
        assert_eq!(
            (
                z.composition_share,
                z.effective_dim_raw,
                z.effective_dim_geom
            ),
            (None, None, None)
        );
    }
}
