//! Representations as row sources. A probe reads the rows of a training or
//! test fold in blocks, widened to f64 as it reads them, so that neither the
//! f64 copy of an embedding nor its composition residual is ever held whole:
//! the embedding stays in memory once, in its on-disk type (see
//! [`crate::flow::projection::Residual`] for the residual computed on the fly).

use ndarray::{s, Array2, ArrayView2, ArrayViewMut2, ShapeBuilder};

use crate::io::embeddings::Values;
pub use crate::io::stream::BLOCK;

/// An `n × d` representation whose rows can be produced on demand.
pub trait Rows: Sync {
    /// Rows.
    fn nrows(&self) -> usize;

    /// Columns.
    fn ncols(&self) -> usize;

    /// Rows `rows` (in that order) into `out`, which is `rows.len() × ncols`.
    fn fill(&self, rows: &[usize], out: ArrayViewMut2<'_, f64>);

    /// Rows `rows` as a column-major matrix (the layout column-wise probes
    /// read fastest).
    fn gather(&self, rows: &[usize]) -> Array2<f64> {
        let mut out = Array2::<f64>::zeros((rows.len(), self.ncols()).f());
        for (b, chunk) in rows.chunks(BLOCK).enumerate() {
            let start = b * BLOCK;
            self.fill(chunk, out.slice_mut(s![start..start + chunk.len(), ..]));
        }
        out
    }

    /// Every row, as a column-major matrix.
    fn materialize(&self) -> Array2<f64> {
        let all: Vec<usize> = (0..self.nrows()).collect();
        self.gather(&all)
    }
}

/// An f64 matrix already in memory (compositions, tests).
pub struct Dense<'a>(pub ArrayView2<'a, f64>);

impl Rows for Dense<'_> {
    fn nrows(&self) -> usize {
        self.0.nrows()
    }

    fn ncols(&self) -> usize {
        self.0.ncols()
    }

    fn fill(&self, rows: &[usize], mut out: ArrayViewMut2<'_, f64>) {
        for (mut o, &r) in out.rows_mut().into_iter().zip(rows) {
            o.assign(&self.0.row(r));
        }
    }
}

/// An embedding layer as loaded (float32 or float64), or read from disk in
/// blocks ([`Values::Disk`]).
pub struct Stored<'a>(pub &'a Values);

impl Rows for Stored<'_> {
    fn nrows(&self) -> usize {
        self.0.nrows()
    }

    fn ncols(&self) -> usize {
        self.0.ncols()
    }

    fn fill(&self, rows: &[usize], mut out: ArrayViewMut2<'_, f64>) {
        if let Values::Disk(d) = self.0 {
            return d.fill(rows, out);
        }
        for (o, &r) in out.rows_mut().into_iter().zip(rows) {
            self.0.row_into(r, o);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn stored_float32_rows_widen_exactly_and_gather_in_order() {
        let v = Values::F32(array![[1.5f32, -2.0], [0.1, 3.0], [7.0, 8.0]]);
        let g = Stored(&v).gather(&[2, 0, 2]);
        assert_eq!(g, array![[7.0, 8.0], [1.5, -2.0], [7.0, 8.0]]);
        assert!(g.t().is_standard_layout(), "column-major");
        let m = Stored(&v).materialize();
        assert_eq!(m[(1, 0)], f64::from(0.1f32));
        // Many blocks: gather crosses block boundaries correctly.
        let big = Array2::from_shape_fn((3 * BLOCK + 5, 2), |(i, j)| (i * 2 + j) as f64);
        let rows: Vec<usize> = (0..big.nrows()).rev().collect();
        let g = Dense(big.view()).gather(&rows);
        for (k, &r) in rows.iter().enumerate() {
            assert_eq!(g.row(k), big.row(r));
        }
    }
}
