//! faer implementation of the linalg kernels (the default backend).

use faer::linalg::matmul::triangular::BlockStructure;
use faer::{Accum, MatMut, MatRef, Par, Side};
use ndarray::{Array1, Array2, ArrayView2, ArrayViewMut2, ShapeBuilder};

use crate::error::{CpdError, Result};

pub(super) const NAME: &str = "faer";

fn view<'a>(a: &'a ArrayView2<'_, f64>) -> MatRef<'a, f64> {
    let st = a.strides();
    // SAFETY: the pointer, shape and element strides come from a live ndarray
    // view that outlives the returned reference.
    unsafe { MatRef::from_raw_parts(a.as_ptr(), a.nrows(), a.ncols(), st[0], st[1]) }
}

fn view_mut(a: &mut Array2<f64>) -> MatMut<'_, f64> {
    let (n, m) = a.dim();
    let st = a.strides().to_vec();
    // SAFETY: as above, with unique access through `&mut`.
    unsafe { MatMut::from_raw_parts_mut(a.as_mut_ptr(), n, m, st[0], st[1]) }
}

pub(super) fn gram_lower(x: ArrayView2<'_, f64>) -> Array2<f64> {
    let d = x.ncols();
    let mut g = Array2::<f64>::zeros((d, d).f());
    syrk_lower(x, &mut g, Accum::Replace);
    g
}

pub(super) fn gram_lower_add(x: ArrayView2<'_, f64>, g: &mut Array2<f64>) {
    syrk_lower(x, g, Accum::Add);
}

/// `G (=|+=) XᵀX` on the lower triangle only.
fn syrk_lower(x: ArrayView2<'_, f64>, g: &mut Array2<f64>, accum: Accum) {
    let xf = view(&x);
    faer::linalg::matmul::triangular::matmul(
        view_mut(g),
        BlockStructure::TriangularLower,
        accum,
        xf.transpose(),
        BlockStructure::Rectangular,
        xf,
        BlockStructure::Rectangular,
        1.0,
        Par::Seq,
    );
}

pub(super) fn matmul(a: ArrayView2<'_, f64>, b: ArrayView2<'_, f64>) -> Array2<f64> {
    let mut c = Array2::<f64>::zeros((a.nrows(), b.ncols()).f());
    faer::linalg::matmul::matmul(
        view_mut(&mut c),
        Accum::Replace,
        view(&a),
        view(&b),
        1.0,
        Par::Seq,
    );
    c
}

/// `C = A·B` (or `C += A·B`) into existing storage, on the calling thread.
pub(super) fn matmul_into<T: faer::traits::ComplexField + Copy>(
    mut c: ArrayViewMut2<'_, T>,
    a: ArrayView2<'_, T>,
    b: ArrayView2<'_, T>,
    accumulate: bool,
    one: T,
) {
    let (n, m) = c.dim();
    let st = c.strides().to_vec();
    // SAFETY: pointer, shape and strides of a live, uniquely borrowed view.
    let cm = unsafe { MatMut::from_raw_parts_mut(c.as_mut_ptr(), n, m, st[0], st[1]) };
    let sa = a.strides();
    let sb = b.strides();
    // SAFETY: as in `view`, for views of any element type.
    let (am, bm) = unsafe {
        (
            MatRef::from_raw_parts(a.as_ptr(), a.nrows(), a.ncols(), sa[0], sa[1]),
            MatRef::from_raw_parts(b.as_ptr(), b.nrows(), b.ncols(), sb[0], sb[1]),
        )
    };
    let accum = if accumulate {
        Accum::Add
    } else {
        Accum::Replace
    };
    faer::linalg::matmul::matmul(cm, accum, am, bm, one, Par::Seq);
}

pub(super) fn sym_eigen(a: ArrayView2<'_, f64>) -> Result<(Array1<f64>, Array2<f64>)> {
    let evd = view(&a)
        .self_adjoint_eigen(Side::Lower)
        .map_err(|e| CpdError::Numerical(format!("symmetric eigendecomposition: {e:?}")))?;
    let d = a.nrows();
    let s = evd.S();
    let lam = Array1::from_shape_fn(d, |i| s[i]);
    let u = evd.U();
    let v = Array2::from_shape_fn((d, d).f(), |(i, j)| u[(i, j)]);
    Ok((lam, v))
}
