//! Gradient histograms: per feature and bin, the sum of gradients and the
//! number of rows (the hessian sum, 1 per row for squared loss). A child's
//! histogram is its parent's minus its sibling's (LightGBM's and
//! scikit-learn's subtraction trick), so only the smaller child is built.
//!
//! The kernels work one feature at a time ([`build_feature`],
//! [`subtract_feature`]) so that the grower can build, subtract and search
//! a feature while its bins are in L1 cache.

use super::binning::Binned;

/// Histograms of all features of one leaf; feature `f` occupies slots
/// `offsets[f]..offsets[f + 1]` (its bins only).
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// Gradient sums per (feature, bin).
    pub grad: Vec<f64>,
    /// Row counts per (feature, bin).
    pub count: Vec<u32>,
}

impl Histogram {
    /// An all-zero histogram with the layout of `binned`.
    pub fn zeros(binned: &Binned) -> Histogram {
        let total = binned.offsets[binned.d];
        Histogram {
            grad: vec![0.0; total],
            count: vec![0; total],
        }
    }

    /// Gradient sums and counts of feature `f`.
    pub fn feature(&self, offsets: &[usize], f: usize) -> (&[f64], &[u32]) {
        let r = offsets[f]..offsets[f + 1];
        (&self.grad[r.clone()], &self.count[r])
    }

    /// Per-feature mutable slices of the gradient and count buffers.
    pub fn per_feature(&mut self, offsets: &[usize]) -> (Vec<&mut [f64]>, Vec<&mut [u32]>) {
        let mut gs = Vec::with_capacity(offsets.len() - 1);
        let mut cs = Vec::with_capacity(offsets.len() - 1);
        let (mut g, mut c) = (&mut self.grad[..], &mut self.count[..]);
        for w in offsets.windows(2) {
            let len = w[1] - w[0];
            let (gh, gt) = g.split_at_mut(len);
            let (ch, ct) = c.split_at_mut(len);
            gs.push(gh);
            cs.push(ch);
            g = gt;
            c = ct;
        }
        (gs, cs)
    }
}

/// One feature's histogram of `rows` (codes `codes`, gradients
/// `ordered_grad[k]` for `rows[k]`) into `g`, `c`, which are overwritten.
/// Rows are summed in the order given, so the sums do not depend on
/// threads.
#[inline]
pub fn build_feature(
    codes: &[u8],
    rows: &[u32],
    ordered_grad: &[f64],
    g: &mut [f64],
    c: &mut [u32],
) {
    g.fill(0.0);
    c.fill(0);
    for (&r, &gr) in rows.iter().zip(ordered_grad) {
        let b = codes[r as usize] as usize;
        g[b] += gr;
        c[b] += 1;
    }
}

/// `(g, c) ← (g, c) − (og, oc)` for one feature (or a whole histogram).
#[inline]
pub fn subtract_feature(g: &mut [f64], c: &mut [u32], og: &[f64], oc: &[u32]) {
    for (a, b) in g.iter_mut().zip(og) {
        *a -= b;
    }
    for (a, b) in c.iter_mut().zip(oc) {
        *a -= b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::gbt::binning::BinMapper;
    use ndarray::Array2;

    /// Every feature's [`build_feature`] into a fresh histogram.
    fn build(binned: &Binned, rows: &[u32], ordered_grad: &[f64]) -> Histogram {
        let mut h = Histogram::zeros(binned);
        let (gs, cs) = h.per_feature(&binned.offsets);
        for (f, (g, c)) in gs.into_iter().zip(cs).enumerate() {
            build_feature(binned.column(f), rows, ordered_grad, g, c);
        }
        h
    }

    /// The obvious triple loop, kept to check the fast version.
    fn naive(binned: &Binned, rows: &[u32], grad_by_row: &[f64]) -> Histogram {
        let mut h = Histogram::zeros(binned);
        for f in 0..binned.d {
            for &r in rows {
                let b = binned.offsets[f] + binned.column(f)[r as usize] as usize;
                h.grad[b] += grad_by_row[r as usize];
                h.count[b] += 1;
            }
        }
        h
    }

    #[test]
    fn build_matches_naive_and_sibling_subtraction_is_exact_for_counts() {
        let x = Array2::from_shape_fn((500, 40), |(i, j)| ((i * 7919 + j * 104729) % 97) as f64);
        let binned = BinMapper::fit(x.view(), 255).transform(x.view());
        let grad: Vec<f64> = (0..500).map(|i| (i as f64 * 0.37).sin()).collect();
        let all: Vec<u32> = (0..500).collect();
        let left: Vec<u32> = all.iter().copied().filter(|r| r % 3 == 0).collect();
        let right: Vec<u32> = all.iter().copied().filter(|r| r % 3 != 0).collect();
        let ordered = |rows: &[u32]| rows.iter().map(|&r| grad[r as usize]).collect::<Vec<_>>();
        let parent = build(&binned, &all, &ordered(&all));
        assert_eq!(parent, naive(&binned, &all, &grad));
        let l = build(&binned, &left, &ordered(&left));
        let mut r = parent.clone();
        subtract_feature(&mut r.grad, &mut r.count, &l.grad, &l.count);
        let direct = naive(&binned, &right, &grad);
        assert_eq!(r.count, direct.count);
        for (a, b) in r.grad.iter().zip(&direct.grad) {
            assert!((a - b).abs() < 1e-12);
        }
    }
}
