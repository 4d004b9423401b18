//! Gradient histograms: per feature and bin, the sum of the rows' integer
//! gradients and the number of rows (the hessian sum, 1 per row for squared
//! loss), packed in one `i64` ([`Packing`]) so that a row costs one
//! addition per feature. A child's histogram is its parent's minus its
//! sibling's (LightGBM's and scikit-learn's subtraction trick), so only the
//! smaller child is built; the sums are integers, so the subtraction is
//! exact and no sum depends on the order of the rows or the threads.
//!
//! The kernels work one feature at a time ([`build_feature`],
//! [`subtract_feature`]) so that the grower can build, subtract and search
//! a feature while its bins are in L1 cache.

use super::binning::Binned;

/// How a row's integer gradient `q` and its count 1 share one `i64`:
/// `q · 2^shift + 1`. A sum of such values over `k < 2^shift` rows is
/// `Σq · 2^shift + k`, so the count is the low `shift` bits and the
/// gradient sum the arithmetic shift right, as long as `|Σq| < 2^(63 −
/// shift)` ([`Packing::limit`] bounds each row's `|q|` so that this holds
/// for every subset of the rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packing {
    shift: u32,
    limit: i64,
}

impl Packing {
    /// The packing for histograms of at most `n ≥ 1` rows.
    pub fn for_rows(n: usize) -> Packing {
        let n = n.max(1) as u64;
        let shift = 64 - n.leading_zeros();
        let limit = (((1u64 << (63 - shift)) - 1) / n).max(1) as i64;
        Packing { shift, limit }
    }

    /// Largest `|q|` a row may carry.
    pub fn limit(&self) -> i64 {
        self.limit
    }

    /// One row's entry.
    #[inline]
    pub fn row(&self, q: i64) -> i64 {
        (q << self.shift) + 1
    }

    /// The entry of a change `dq` of a row's integer gradient (count 0).
    #[inline]
    pub fn change(&self, dq: i64) -> i64 {
        dq << self.shift
    }

    /// Row count of a packed sum.
    #[inline]
    pub fn count(&self, v: i64) -> u32 {
        (v & ((1i64 << self.shift) - 1)) as u32
    }

    /// Integer gradient sum of a packed sum.
    #[inline]
    pub fn grad(&self, v: i64) -> i64 {
        v >> self.shift
    }
}

/// Histograms of all features of one leaf; feature `f` occupies slots
/// `offsets[f]..offsets[f + 1]` (its bins only).
#[derive(Debug, Clone, PartialEq)]
pub struct Histogram {
    /// Packed gradient sums and counts per (feature, bin).
    pub bins: Vec<i64>,
}

impl Histogram {
    /// An all-zero histogram with the layout of `binned`.
    pub fn zeros(binned: &Binned) -> Histogram {
        Histogram {
            bins: vec![0; binned.offsets[binned.d]],
        }
    }

    /// Packed sums of feature `f`.
    pub fn feature(&self, offsets: &[usize], f: usize) -> &[i64] {
        &self.bins[offsets[f]..offsets[f + 1]]
    }

    /// Per-feature mutable slices.
    pub fn per_feature(&mut self, offsets: &[usize]) -> Vec<&mut [i64]> {
        let mut out = Vec::with_capacity(offsets.len() - 1);
        let mut rest = &mut self.bins[..];
        for w in offsets.windows(2) {
            let (head, tail) = rest.split_at_mut(w[1] - w[0]);
            out.push(head);
            rest = tail;
        }
        out
    }
}

/// How many rows ahead [`build_feature`] asks for a row's code.
const PREFETCH: usize = 64;

/// One feature's histogram of `rows` (codes `codes`, packed entries
/// `ordered[k]` for `rows[k]`) into `h`, which is overwritten.
#[inline]
pub fn build_feature(codes: &[u8], rows: &[u32], ordered: &[i64], h: &mut [i64]) {
    h.fill(0);
    for (k, (&r, &v)) in rows.iter().zip(ordered).enumerate() {
        if let Some(&ahead) = rows.get(k + PREFETCH) {
            #[cfg(target_arch = "x86_64")]
            unsafe {
                std::arch::x86_64::_mm_prefetch(
                    codes.as_ptr().add(ahead as usize) as *const i8,
                    std::arch::x86_64::_MM_HINT_T0,
                );
            }
        }
        h[codes[r as usize] as usize] += v;
    }
}

/// `h ← h − o` for one feature (or a whole histogram).
#[inline]
pub fn subtract_feature(h: &mut [i64], o: &[i64]) {
    for (a, b) in h.iter_mut().zip(o) {
        *a -= b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::gbt::binning::BinMapper;
    use ndarray::Array2;

    /// Every feature's [`build_feature`] into a fresh histogram.
    fn build(binned: &Binned, rows: &[u32], ordered: &[i64]) -> Histogram {
        let mut h = Histogram::zeros(binned);
        for (f, g) in h.per_feature(&binned.offsets).into_iter().enumerate() {
            build_feature(binned.column(f), rows, ordered, g);
        }
        h
    }

    #[test]
    fn packed_sums_unpack_to_gradient_sums_and_counts() {
        let binned = {
            let x =
                Array2::from_shape_fn((500, 40), |(i, j)| ((i * 7919 + j * 104729) % 97) as f64);
            BinMapper::fit(x.view(), 255).transform(x.view())
        };
        let pk = Packing::for_rows(500);
        assert_eq!(pk.shift, 9);
        // Gradients at the limit, of both signs.
        let q: Vec<i64> = (0..500)
            .map(|i| {
                if i % 3 == 0 {
                    -pk.limit()
                } else {
                    pk.limit() - i as i64
                }
            })
            .collect();
        let all: Vec<u32> = (0..500).collect();
        let packed: Vec<i64> = q.iter().map(|&v| pk.row(v)).collect();
        let left: Vec<u32> = all.iter().copied().filter(|r| r % 3 == 0).collect();
        let ordered = |rows: &[u32]| rows.iter().map(|&r| packed[r as usize]).collect::<Vec<_>>();
        let parent = build(&binned, &all, &ordered(&all));
        let l = build(&binned, &left, &ordered(&left));
        let mut r = parent.clone();
        subtract_feature(&mut r.bins, &l.bins);
        for (h, rows) in [(&parent, &all[..]), (&l, &left[..])] {
            for f in 0..binned.d {
                let col = binned.column(f);
                for (b, &v) in h.feature(&binned.offsets, f).iter().enumerate() {
                    let mine: Vec<u32> = rows
                        .iter()
                        .copied()
                        .filter(|&r| col[r as usize] as usize == b)
                        .collect();
                    assert_eq!(pk.count(v), mine.len() as u32);
                    let sum: i64 = mine.iter().map(|&r| q[r as usize]).sum();
                    assert_eq!(pk.grad(v), sum);
                }
            }
        }
        // The sibling by subtraction is the direct build, exactly.
        let right: Vec<u32> = all.iter().copied().filter(|r| r % 3 != 0).collect();
        assert_eq!(r, build(&binned, &right, &ordered(&right)));
        // A whole feature at the limit does not overflow.
        let total = parent.feature(&binned.offsets, 0).iter().sum::<i64>();
        assert_eq!(pk.count(total), 500);
        assert_eq!(pk.grad(total), q.iter().sum::<i64>());
    }

    #[test]
    fn the_limit_keeps_every_sum_in_range() {
        for n in [
            1usize,
            2,
            3,
            500,
            65_535,
            65_536,
            104_000,
            1 << 24,
            (1 << 31) - 1,
        ] {
            let pk = Packing::for_rows(n);
            assert!((n as u64) < (1u64 << pk.shift), "{n}");
            let worst = (n as i128) * pk.limit() as i128;
            assert!(worst < 1i128 << (63 - pk.shift), "{n}");
            assert!(pk.limit() >= 1);
        }
        // Resolution at typical fold sizes.
        assert!(Packing::for_rows(104_000).limit() > 1 << 28);
        assert!(Packing::for_rows(4_800).limit() > 1 << 37);
    }
}
