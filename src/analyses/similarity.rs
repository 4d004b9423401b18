//! Representation similarity: linear CKA (Kornblith et al. 2019, "Similarity
//! of Neural Network Representations Revisited", eq. for linear CKA) between
//! layers, on centred rows `X` (n × d_x) and `Y` (n × d_y):
//!
//! `CKA(X, Y) = ‖YᵀX‖²_F / (‖XᵀX‖_F ‖YᵀY‖_F)`.
//!
//! It is computed from cross-products only (`d_x × d_y`, `d × d`), never from
//! the `n × n` kernels of the HSIC form, so it scales like the ridge probe:
//! one pass over the rows of both layers per pair, in blocks read through
//! [`Rows`]. CKA is 1 for a layer with itself and invariant to orthogonal
//! transforms and isotropic scaling of either argument; 0 when the centred
//! columns of one are orthogonal to those of the other. Undefined (`None`)
//! when either layer is constant.

use ndarray::{Array1, Array2};

use super::layerstats::{centred_cross, centred_gram, column_means, trace_and_norm};
use crate::flow::rows::Rows;

/// A layer prepared for CKA: its rows, column means and `‖XᵀX‖_F` of the
/// centred rows.
pub struct Centred<'a> {
    rows: &'a dyn Rows,
    mean: Array1<f64>,
    norm: f64,
}

impl<'a> Centred<'a> {
    /// Two passes over `rows`: the means, then the centred Gram's norm.
    pub fn new(rows: &'a dyn Rows) -> Centred<'a> {
        let mean = column_means(rows);
        let (_, norm) = trace_and_norm(&centred_gram(rows, &mean));
        Centred { rows, mean, norm }
    }

    /// The same layer with a norm already known (from an earlier load of it).
    pub fn with_norm(rows: &'a dyn Rows, norm: f64) -> Centred<'a> {
        Centred {
            rows,
            mean: column_means(rows),
            norm,
        }
    }

    /// `‖XᵀX‖_F` of the centred rows.
    pub fn norm(&self) -> f64 {
        self.norm
    }
}

/// Linear CKA of two prepared layers (one pass over both).
pub fn cka(a: &Centred<'_>, b: &Centred<'_>) -> Option<f64> {
    if !(a.norm > 0.0 && b.norm > 0.0) {
        return None;
    }
    let c = centred_cross(a.rows, &a.mean, b.rows, &b.mean);
    let num: f64 = c.iter().map(|v| v * v).sum();
    let v = num / (a.norm * b.norm);
    v.is_finite().then_some(v)
}

/// CKA between every pair of `layers` (symmetric, `None` where undefined).
pub fn cka_matrix(layers: &[&dyn Rows]) -> Array2<Option<f64>> {
    let prepared: Vec<Centred<'_>> = layers.iter().map(|l| Centred::new(*l)).collect();
    let m = layers.len();
    let mut out = Array2::from_elem((m, m), None);
    for i in 0..m {
        for j in i..m {
            let v = cka(&prepared[i], &prepared[j]);
            out[(i, j)] = v;
            out[(j, i)] = v;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::rows::Dense;
    use crate::linalg;
    use ndarray::Array2;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn random(n: usize, d: usize, seed: u64) -> Array2<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        Array2::from_shape_fn((n, d), |_| rng.random_range(-1.0..1.0))
    }

    fn one(a: &Array2<f64>, b: &Array2<f64>) -> f64 {
        cka_matrix(&[&Dense(a.view()), &Dense(b.view())])[(0, 1)].unwrap()
    }

    #[test]
    fn self_similarity_is_one_and_invariances_hold() {
        let x = random(300, 6, 1);
        // y shares two directions with x, plus noise.
        let noise = random(300, 4, 2);
        let mut y = noise.clone();
        y.column_mut(0).scaled_add(2.0, &x.column(0));
        y.column_mut(1).scaled_add(-1.5, &x.column(3));
        let base = one(&x, &y);
        assert!(base > 0.05 && base < 0.95, "a nontrivial CKA: {base}");
        assert!((one(&x, &x) - 1.0).abs() < 1e-14);
        assert!((one(&y, &y) - 1.0).abs() < 1e-14);
        // Orthogonal transform of x (Q from a QR of a random matrix) and
        // an isotropic scaling of y, and a shift of both (centring).
        let q = linalg::qr_pivoted(random(6, 6, 3).view(), None).q;
        let xq = linalg::matmul(x.view(), q.view()) + 5.0;
        let ys = &y * 37.5 - 2.0;
        assert!((one(&xq, &y) - base).abs() < 1e-12);
        assert!((one(&x, &ys) - base).abs() < 1e-12);
        assert!((one(&xq, &ys) - base).abs() < 1e-12);
        // Symmetric.
        assert!((one(&y, &x) - base).abs() < 1e-14);
    }

    #[test]
    fn orthogonal_columns_give_zero_and_constant_layers_none() {
        // Centred columns of a and b are orthogonal.
        let a = ndarray::array![[1.0], [-1.0], [1.0], [-1.0]];
        let b = ndarray::array![[1.0], [1.0], [-1.0], [-1.0]];
        assert_eq!(one(&a, &b), 0.0);
        let c = Array2::<f64>::from_elem((4, 2), 3.0);
        let m = cka_matrix(&[&Dense(a.view()), &Dense(c.view())]);
        assert_eq!(m[(0, 1)], None);
        assert_eq!(m[(1, 1)], None);
        assert_eq!(m[(0, 0)], Some(1.0));
    }
}
