//! Row-major single-precision products whose left operand is a selection of
//! rows of a larger matrix: the two products of an MLP training step,
//! `X_B·W` and `X_Bᵀ·Δ`, read straight from the rows of `X` a minibatch
//! names, without copying them out first.
//!
//! Every output element is one chain of fused multiply-adds over the inner
//! dimension in ascending order, starting from the bias (or zero). Blocking,
//! vector width and instruction set decide how many elements are computed at
//! once, never the arithmetic of any one element, so the AVX-512, the
//! AVX2 + FMA and the portable copies give the same bits.
//!
//! The x86-64 copies keep a tile of `MR` rows × `NV` vectors of the output in
//! registers (6 × 4 vectors: 24 accumulators) and stream the inner dimension
//! through it, one vector load per column vector and one broadcast per row
//! per step. `X_B·W` walks the selected rows in blocks of `MR`, each block
//! against every column strip of `W`, fetching the next block's rows while
//! it computes; `X_Bᵀ·Δ` walks the output in tiles of `MR` columns of `X`.

/// Rows of the output tile kept in registers.
const MR: usize = 6;
/// Column vectors of the output tile kept in registers.
const NV: usize = 4;

/// `C[i, j] = act(b[j] + Σ_k X[rows[i], k] · W[k, j])` for row-major `X`
/// (`· × d`), `W` (`d × h`) and `C` (`rows.len() × h`, the first
/// `rows.len() · h` elements of `c`); `b` zero when `None`, `act` the ReLU
/// `v > 0 ? v : 0` when `relu`, else the identity.
#[allow(clippy::too_many_arguments)]
pub fn select_times(
    c: &mut [f32],
    x: &[f32],
    d: usize,
    rows: &[usize],
    w: &[f32],
    h: usize,
    bias: Option<&[f32]>,
    relu: bool,
) {
    let n = rows.len();
    assert!(c.len() >= n * h, "select_times: output too short");
    assert_eq!(w.len(), d * h, "select_times: W is not d × h");
    assert!(
        rows.iter().all(|&r| (r + 1) * d <= x.len()),
        "select_times: row out of range"
    );
    if let Some(b) = bias {
        assert_eq!(b.len(), h, "select_times: bias length");
    }
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the processor has AVX-512F (checked); the shapes were
            // checked above, so every pointer the kernel forms is in bounds.
            return unsafe { avx512::select_times(c, x, d, rows, w, h, bias, relu) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: as above, for AVX2 and FMA.
            return unsafe { avx2::select_times(c, x, d, rows, w, h, bias, relu) };
        }
    }
    portable_times(c, x, d, rows, w, h, bias, relu, 0)
}

/// `G[k, j] = Σ_i X[rows[i], k] · Δ[i, j]` for row-major `X` (`· × d`), `Δ`
/// (`rows.len() × h`, the first `rows.len() · h` elements of `delta`) and
/// `G` (`d × h`).
pub fn select_t_times(g: &mut [f32], x: &[f32], d: usize, rows: &[usize], delta: &[f32], h: usize) {
    let n = rows.len();
    assert_eq!(g.len(), d * h, "select_t_times: G is not d × h");
    assert!(delta.len() >= n * h, "select_t_times: Δ too short");
    assert!(
        rows.iter().all(|&r| (r + 1) * d <= x.len()),
        "select_t_times: row out of range"
    );
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the processor has AVX-512F (checked); shapes checked.
            return unsafe { avx512::select_t_times(g, x, d, rows, delta, h) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: as above, for AVX2 and FMA.
            return unsafe { avx2::select_t_times(g, x, d, rows, delta, h) };
        }
    }
    portable_t_times(g, x, d, rows, delta, h, 0)
}

/// [`select_times`] for the columns `j0..h`, one element at a time.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn portable_times(
    c: &mut [f32],
    x: &[f32],
    d: usize,
    rows: &[usize],
    w: &[f32],
    h: usize,
    bias: Option<&[f32]>,
    relu: bool,
    j0: usize,
) {
    for (i, &r) in rows.iter().enumerate() {
        let xr = &x[r * d..(r + 1) * d];
        for j in j0..h {
            let mut acc = bias.map_or(0.0, |b| b[j]);
            for (k, &a) in xr.iter().enumerate() {
                acc = a.mul_add(w[k * h + j], acc);
            }
            // As the vector copies' max(v, 0): 0 unless v > 0 (also for NaN).
            let positive = acc > 0.0;
            c[i * h + j] = if relu && !positive { 0.0 } else { acc };
        }
    }
}

/// [`select_t_times`] for the columns `j0..h`, one element at a time.
#[inline(always)]
fn portable_t_times(
    g: &mut [f32],
    x: &[f32],
    d: usize,
    rows: &[usize],
    delta: &[f32],
    h: usize,
    j0: usize,
) {
    for k in 0..d {
        for j in j0..h {
            let mut acc = 0.0f32;
            for (i, &r) in rows.iter().enumerate() {
                acc = x[r * d + k].mul_add(delta[i * h + j], acc);
            }
            g[k * h + j] = acc;
        }
    }
}

/// One instruction set's copy of the kernels.
#[cfg(target_arch = "x86_64")]
macro_rules! kernels {
    ($name:ident, $feat:literal, $lanes:expr, $zero:ident, $set1:ident, $load:ident,
     $store:ident, $fma:ident, $max:ident) => {
        mod $name {
            use super::{portable_t_times, portable_times, MR, NV};
            use core::arch::x86_64::*;

            const L: usize = $lanes;

            /// `M` rows × `V` vectors of `C`, from the row pointers `xr`;
            /// meanwhile the rows `next` are fetched into the cache.
            #[inline]
            #[target_feature(enable = $feat)]
            #[allow(clippy::too_many_arguments)]
            unsafe fn times_tile<const M: usize, const V: usize>(
                c: *mut f32,
                h: usize,
                xr: &[*const f32; M],
                next: &[*const f32; MR],
                d: usize,
                w: *const f32,
                bias: *const f32,
                relu: bool,
            ) {
                let mut acc = [[$zero(); V]; M];
                if !bias.is_null() {
                    for v in 0..V {
                        let b = $load(bias.add(v * L));
                        for row in acc.iter_mut() {
                            row[v] = b;
                        }
                    }
                }
                for k in 0..d {
                    if k % 16 == 0 {
                        for p in next {
                            _mm_prefetch::<_MM_HINT_T0>(p.add(k) as *const i8);
                        }
                    }
                    let mut wv = [$zero(); V];
                    for (v, wv) in wv.iter_mut().enumerate() {
                        *wv = $load(w.add(k * h + v * L));
                    }
                    for m in 0..M {
                        let a = $set1(*xr[m].add(k));
                        for v in 0..V {
                            acc[m][v] = $fma(a, wv[v], acc[m][v]);
                        }
                    }
                }
                let zero = $zero();
                for m in 0..M {
                    for v in 0..V {
                        // max(v, 0) returns 0 unless v > 0 (also for NaN).
                        let out = if relu {
                            $max(acc[m][v], zero)
                        } else {
                            acc[m][v]
                        };
                        $store(c.add(m * h + v * L), out);
                    }
                }
            }

            /// All columns of the `M` rows `rows[i0..i0 + M]` of `C`: the
            /// rows stay in the cache while every column strip of `W`
            /// streams past them, and the first strip fetches the next
            /// block's rows.
            #[inline]
            #[target_feature(enable = $feat)]
            #[allow(clippy::too_many_arguments)]
            unsafe fn times_rows<const M: usize>(
                c: &mut [f32],
                x: &[f32],
                d: usize,
                rows: &[usize],
                i0: usize,
                w: &[f32],
                h: usize,
                bias: Option<&[f32]>,
                relu: bool,
            ) {
                let xp = x.as_ptr();
                let last = rows.len() - 1;
                let xr: [*const f32; M] = core::array::from_fn(|m| xp.add(rows[i0 + m] * d));
                let next: [*const f32; MR] =
                    core::array::from_fn(|m| xp.add(rows[(i0 + M + m).min(last)] * d));
                let same: [*const f32; MR] = core::array::from_fn(|m| xr[m.min(M - 1)]);
                let bp = |j0: usize| bias.map_or(core::ptr::null(), |b| b.as_ptr().add(j0));
                let cp = c.as_mut_ptr().add(i0 * h);
                let mut j0 = 0;
                while j0 + NV * L <= h {
                    let pf = if j0 == 0 { &next } else { &same };
                    times_tile::<M, NV>(
                        cp.add(j0),
                        h,
                        &xr,
                        pf,
                        d,
                        w.as_ptr().add(j0),
                        bp(j0),
                        relu,
                    );
                    j0 += NV * L;
                }
                let pf = if j0 == 0 { &next } else { &same };
                match (h - j0) / L {
                    1 => times_tile::<M, 1>(
                        cp.add(j0),
                        h,
                        &xr,
                        pf,
                        d,
                        w.as_ptr().add(j0),
                        bp(j0),
                        relu,
                    ),
                    2 => times_tile::<M, 2>(
                        cp.add(j0),
                        h,
                        &xr,
                        pf,
                        d,
                        w.as_ptr().add(j0),
                        bp(j0),
                        relu,
                    ),
                    3 => times_tile::<M, 3>(
                        cp.add(j0),
                        h,
                        &xr,
                        pf,
                        d,
                        w.as_ptr().add(j0),
                        bp(j0),
                        relu,
                    ),
                    _ => {}
                }
                j0 += (h - j0) / L * L;
                if j0 < h {
                    portable_times(
                        &mut c[i0 * h..],
                        x,
                        d,
                        &rows[i0..i0 + M],
                        w,
                        h,
                        bias,
                        relu,
                        j0,
                    );
                }
            }

            #[target_feature(enable = $feat)]
            #[allow(clippy::too_many_arguments)]
            pub(super) unsafe fn select_times(
                c: &mut [f32],
                x: &[f32],
                d: usize,
                rows: &[usize],
                w: &[f32],
                h: usize,
                bias: Option<&[f32]>,
                relu: bool,
            ) {
                let mut i0 = 0;
                while i0 + MR <= rows.len() {
                    times_rows::<MR>(c, x, d, rows, i0, w, h, bias, relu);
                    i0 += MR;
                }
                match rows.len() - i0 {
                    1 => times_rows::<1>(c, x, d, rows, i0, w, h, bias, relu),
                    2 => times_rows::<2>(c, x, d, rows, i0, w, h, bias, relu),
                    3 => times_rows::<3>(c, x, d, rows, i0, w, h, bias, relu),
                    4 => times_rows::<4>(c, x, d, rows, i0, w, h, bias, relu),
                    5 => times_rows::<5>(c, x, d, rows, i0, w, h, bias, relu),
                    _ => {}
                }
            }

            /// `M` rows (inner columns `k0..k0+M` of `X`) × `V` vectors of
            /// `G`, summed over the selected rows.
            #[inline]
            #[target_feature(enable = $feat)]
            unsafe fn t_tile<const M: usize, const V: usize>(
                g: *mut f32,
                h: usize,
                x: *const f32,
                d: usize,
                rows: &[usize],
                delta: *const f32,
            ) {
                let mut acc = [[$zero(); V]; M];
                for (i, &r) in rows.iter().enumerate() {
                    let xr = x.add(r * d);
                    let mut dv = [$zero(); V];
                    for (v, dv) in dv.iter_mut().enumerate() {
                        *dv = $load(delta.add(i * h + v * L));
                    }
                    for m in 0..M {
                        let a = $set1(*xr.add(m));
                        for v in 0..V {
                            acc[m][v] = $fma(a, dv[v], acc[m][v]);
                        }
                    }
                }
                for m in 0..M {
                    for v in 0..V {
                        $store(g.add(m * h + v * L), acc[m][v]);
                    }
                }
            }

            /// All of `G`'s rows in the `V`-vector column strip at `j0`.
            #[inline]
            #[target_feature(enable = $feat)]
            unsafe fn t_strip<const V: usize>(
                g: &mut [f32],
                x: &[f32],
                d: usize,
                rows: &[usize],
                delta: &[f32],
                h: usize,
                j0: usize,
            ) {
                let dp = delta.as_ptr().add(j0);
                let mut k0 = 0;
                macro_rules! tile {
                    ($m:literal) => {
                        t_tile::<$m, V>(
                            g.as_mut_ptr().add(k0 * h + j0),
                            h,
                            x.as_ptr().add(k0),
                            d,
                            rows,
                            dp,
                        )
                    };
                }
                while k0 + MR <= d {
                    tile!(6);
                    k0 += MR;
                }
                match d - k0 {
                    1 => tile!(1),
                    2 => tile!(2),
                    3 => tile!(3),
                    4 => tile!(4),
                    5 => tile!(5),
                    _ => {}
                }
            }

            #[target_feature(enable = $feat)]
            pub(super) unsafe fn select_t_times(
                g: &mut [f32],
                x: &[f32],
                d: usize,
                rows: &[usize],
                delta: &[f32],
                h: usize,
            ) {
                let mut j0 = 0;
                while j0 + NV * L <= h {
                    t_strip::<NV>(g, x, d, rows, delta, h, j0);
                    j0 += NV * L;
                }
                match (h - j0) / L {
                    1 => t_strip::<1>(g, x, d, rows, delta, h, j0),
                    2 => t_strip::<2>(g, x, d, rows, delta, h, j0),
                    3 => t_strip::<3>(g, x, d, rows, delta, h, j0),
                    _ => {}
                }
                j0 += (h - j0) / L * L;
                if j0 < h {
                    portable_t_times(g, x, d, rows, delta, h, j0);
                }
            }
        }
    };
}

#[cfg(target_arch = "x86_64")]
kernels!(
    avx512,
    "avx512f,avx2,fma",
    16,
    _mm512_setzero_ps,
    _mm512_set1_ps,
    _mm512_loadu_ps,
    _mm512_storeu_ps,
    _mm512_fmadd_ps,
    _mm512_max_ps
);

#[cfg(target_arch = "x86_64")]
kernels!(
    avx2,
    "avx2,fma",
    8,
    _mm256_setzero_ps,
    _mm256_set1_ps,
    _mm256_loadu_ps,
    _mm256_storeu_ps,
    _mm256_fmadd_ps,
    _mm256_max_ps
);

#[cfg(test)]
mod tests {
    use super::*;

    fn lcg(len: usize, seed: u64) -> Vec<f32> {
        let mut s = seed;
        (0..len)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5
            })
            .collect()
    }

    #[test]
    fn every_copy_gives_the_portable_bits_for_any_shape() {
        for &(nx, d, h, nb) in &[
            (50, 256, 128, 37),
            (9, 7, 5, 4),
            (30, 13, 100, 30),
            (8, 1, 1, 1),
            (20, 6, 16, 12),
        ] {
            let x = lcg(nx * d, 1);
            let w = lcg(d * h, 2);
            let b = lcg(h, 3);
            let delta = lcg(nb * h, 4);
            let rows: Vec<usize> = (0..nb).map(|i| (i * 7 + 3) % nx).collect();
            for (bias, relu) in [(Some(&b[..]), true), (None, false)] {
                let mut want = vec![0.0; nb * h];
                portable_times(&mut want, &x, d, &rows, &w, h, bias, relu, 0);
                let mut got = vec![f32::NAN; nb * h];
                select_times(&mut got, &x, d, &rows, &w, h, bias, relu);
                assert!(
                    want.iter()
                        .zip(&got)
                        .all(|(a, b)| a.to_bits() == b.to_bits()),
                    "times {nx}×{d}·{h}, {nb} rows"
                );
            }
            let mut want = vec![0.0; d * h];
            portable_t_times(&mut want, &x, d, &rows, &delta, h, 0);
            let mut got = vec![f32::NAN; d * h];
            select_t_times(&mut got, &x, d, &rows, &delta, h);
            assert!(
                want.iter()
                    .zip(&got)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "t_times {nx}×{d}·{h}, {nb} rows"
            );
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                let mut got2 = vec![f32::NAN; d * h];
                // SAFETY: AVX2 and FMA checked; shapes as above.
                unsafe { avx2::select_t_times(&mut got2, &x, d, &rows, &delta, h) };
                assert!(want
                    .iter()
                    .zip(&got2)
                    .all(|(a, b)| a.to_bits() == b.to_bits()));
                let mut want = vec![0.0; nb * h];
                portable_times(&mut want, &x, d, &rows, &w, h, Some(&b), true, 0);
                let mut got2 = vec![f32::NAN; nb * h];
                // SAFETY: as above.
                unsafe { avx2::select_times(&mut got2, &x, d, &rows, &w, h, Some(&b), true) };
                assert!(want
                    .iter()
                    .zip(&got2)
                    .all(|(a, b)| a.to_bits() == b.to_bits()));
            }
            // Against a double-precision product.
            for k in 0..d {
                for j in 0..h {
                    let exact: f64 = rows
                        .iter()
                        .enumerate()
                        .map(|(i, &r)| x[r * d + k] as f64 * delta[i * h + j] as f64)
                        .sum();
                    assert!((got[k * h + j] as f64 - exact).abs() <= 1e-5 * nb as f64);
                }
            }
        }
    }
}
