//! Unbiased linear CKA: CKA with the unbiased HSIC estimator (Song et al.
//! 2012, "Feature Selection via Dependence Maximization", eq. 5), which the
//! plain (biased) estimator of [`crate::analyses::similarity`] needs when
//! `n` is not much larger than the widths (Kornblith et al. 2019, and
//! Nguyen et al. 2021 for its use in comparing networks).
//!
//! With centred rows `X` (n × d_x), `Y` (n × d_y), row norms
//! `a_i = ‖x_i‖²`, `b_i = ‖y_i‖²` and `A = Σ a_i`, `B = Σ b_i`, the
//! unbiased HSIC of the linear kernels is, up to a factor that cancels in
//! the ratio (Kornblith et al.'s feature-space form),
//!
//! `h(X, Y) = ‖YᵀX‖²_F − n/(n − 2) · Σ a_i b_i + A·B / ((n − 1)(n − 2))`,
//!
//! and `CKA_u(X, Y) = h(X, Y) / √(h(X, X) · h(Y, Y))`. The cross term needs
//! one `d_x × d_y` product, never the `n × n` kernels. CKA_u(X, X) = 1; it
//! can be negative (unbiased), and is undefined (`None`) when a denominator
//! term is not positive or `n < 4`.

use ndarray::{ArrayView2, Axis};

use crate::linalg;

/// A centred representation with what its CKA terms need.
pub struct Terms<'a> {
    x: ArrayView2<'a, f64>,
    rows: Vec<f64>,
    total: f64,
    self_h: f64,
}

impl<'a> Terms<'a> {
    /// `x`: centred rows.
    pub fn new(x: ArrayView2<'a, f64>) -> Terms<'a> {
        let rows: Vec<f64> = x.axis_iter(Axis(0)).map(|r| r.dot(&r)).collect();
        let total = rows.iter().sum();
        let g = linalg::gram(x);
        let xx = g.iter().map(|v| v * v).sum();
        let mut t = Terms {
            x,
            rows,
            total,
            self_h: 0.0,
        };
        t.self_h = h(xx, &t, &t);
        t
    }
}

fn h(cross: f64, a: &Terms<'_>, b: &Terms<'_>) -> f64 {
    let n = a.rows.len() as f64;
    let ab: f64 = a.rows.iter().zip(&b.rows).map(|(p, q)| p * q).sum();
    cross - n / (n - 2.0) * ab + a.total * b.total / ((n - 1.0) * (n - 2.0))
}

/// Unbiased linear CKA of two prepared representations of the same rows.
pub fn cka_unbiased(a: &Terms<'_>, b: &Terms<'_>) -> Option<f64> {
    if a.rows.len() < 4 || !(a.self_h > 0.0 && b.self_h > 0.0) {
        return None;
    }
    let c = linalg::matmul_tn(a.x, b.x);
    let cross = c.iter().map(|v| v * v).sum();
    let v = h(cross, a, b) / (a.self_h * b.self_h).sqrt();
    v.is_finite().then_some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn centred(n: usize, d: usize, seed: u64) -> Array2<f64> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let x = Array2::from_shape_fn((n, d), |_| rng.random_range(-1.0..1.0));
        let m = x.mean_axis(Axis(0)).unwrap();
        x - &m
    }

    /// The published estimator on the n × n kernels: Song et al.'s HSIC_1
    /// with the diagonals zeroed.
    fn hsic1(k: &Array2<f64>, l: &Array2<f64>) -> f64 {
        let n = k.nrows();
        let mut kt = k.clone();
        let mut lt = l.clone();
        for i in 0..n {
            kt[(i, i)] = 0.0;
            lt[(i, i)] = 0.0;
        }
        let nf = n as f64;
        let tr: f64 = (&kt * &lt.t()).sum();
        let k1 = kt.sum_axis(Axis(1));
        let l1 = lt.sum_axis(Axis(1));
        tr + kt.sum() * lt.sum() / ((nf - 1.0) * (nf - 2.0)) - 2.0 / (nf - 2.0) * k1.dot(&l1)
    }

    #[test]
    fn feature_form_equals_the_kernel_form_and_self_is_one() {
        let x = centred(40, 6, 1);
        let mut y = centred(40, 3, 2);
        y.column_mut(0).scaled_add(1.0, &x.column(2));
        let y = {
            let m = y.mean_axis(Axis(0)).unwrap();
            y - &m
        };
        let (tx, ty) = (Terms::new(x.view()), Terms::new(y.view()));
        let k = x.dot(&x.t());
        let l = y.dot(&y.t());
        let want = hsic1(&k, &l) / (hsic1(&k, &k) * hsic1(&l, &l)).sqrt();
        let got = cka_unbiased(&tx, &ty).unwrap();
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
        assert!((cka_unbiased(&tx, &tx).unwrap() - 1.0).abs() < 1e-12);
        // Independent noise: near 0, and below the biased estimator.
        let z = centred(40, 30, 3);
        let u = cka_unbiased(&tx, &Terms::new(z.view())).unwrap();
        assert!(u.abs() < 0.15, "{u}");
    }
}
