//! LAPACK/BLAS implementation of the linalg kernels (feature `lapack`):
//! products through ndarray's BLAS `dgemm`, the eigendecomposition through
//! LAPACK `dsyevd` (via `ndarray-linalg`).

use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2, ShapeBuilder};
use ndarray_linalg::{Eigh, UPLO};

use crate::error::{CpdError, Result};

pub(super) const NAME: &str = "lapack";

pub(super) fn gram_lower(x: ArrayView2<'_, f64>) -> Array2<f64> {
    let mut g = Array2::<f64>::zeros((x.ncols(), x.ncols()).f());
    ndarray::linalg::general_mat_mul(1.0, &x.t(), &x, 0.0, &mut g);
    g
}

pub(super) fn gram_lower_add(x: ArrayView2<'_, f64>, g: &mut Array2<f64>) {
    ndarray::linalg::general_mat_mul(1.0, &x.t(), &x, 1.0, g);
}

pub(super) fn matmul(a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>) -> Array2<f64> {
    let mut c = Array2::<f64>::zeros((a.nrows(), b.ncols()).f());
    ndarray::linalg::general_mat_mul(1.0, &a, &b, 0.0, &mut c);
    c
}

/// `C = A·B` (or `C += A·B`) into existing storage (BLAS `gemm`).
pub(super) fn matmul_into<T: ndarray::LinalgScalar>(
    mut c: ArrayViewMut2<'_, T>,
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
    accumulate: bool,
    one: T,
) {
    let beta = if accumulate { one } else { T::zero() };
    ndarray::linalg::general_mat_mul(one, &a, &b, beta, &mut c);
}

pub(super) fn sym_eigen(a: ArrayView2<'_, f64>) -> Result<(Array1<f64>, Array2<f64>)> {
    let owned = a.to_owned();
    owned
        .eigh(UPLO::Lower)
        .map_err(|e| CpdError::Numerical(format!("symmetric eigendecomposition: {e}")))
}
