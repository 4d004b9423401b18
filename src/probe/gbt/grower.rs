//! Leaf-wise (best-first) tree growth, as LightGBM's
//! `SerialTreeLearner::Train` and scikit-learn's `TreeGrower`: repeatedly
//! split the leaf whose best split gains most, until `max_leaves` leaves or
//! no split has positive gain.
//!
//! Each split builds the smaller child's histogram, turns the parent's into
//! the larger child's by subtraction, and searches both children's best
//! splits, in one pass per feature ([`build_and_search`]): a feature's
//! bins are built, subtracted and scanned while they are in L1 cache, and
//! features run in parallel when the leaf is large enough.
//!
//! Rows are tracked as LightGBM's `DataPartition` does: one index buffer
//! in which every leaf owns a contiguous range, split in place (stably, so
//! each leaf's rows stay in ascending order). Buffers live in a
//! [`Workspace`] reused by every tree of a fit.
//!
//! # Integer gradients
//! The histograms sum integer gradients `q_r ≈ g_r / s` (one scale `s`
//! per fit), packed with the row count in one `i64`
//! ([`Packing`]): a row costs one addition per feature instead of two, the
//! split scan carries one running sum, and every sum is exact, so
//! subtraction, threads and row order cannot change a histogram (LightGBM
//! quantises gradients for the same reasons, `use_quantized_grad`, Shi et
//! al. 2022, there to a few bits; here the largest gradient gets 2^30
//! levels, or a quarter of the packing's limit: at least 2^27 for training
//! folds under 131,072 rows, so a row's rounding is below 1e-8 of the
//! largest gradient). Leaf values come from
//! the exact `f64` gradients of the leaf's rows.
//!
//! Every row is in the root, and for squared loss the next round's
//! gradient of a row of leaf `L` is its gradient plus `η · value_L`, the
//! same for the whole leaf. So after the first tree the root histogram is
//! not built from the rows when `rows × features` exceed `leaves × bins`
//! (from about 8,000 rows at 31 leaves and 255 bins): the grower adds `round(η · value_L / s)` to
//! the integer gradients of `L`'s rows and `round(η · value_L / s) ×` the
//! leaf's per-bin counts to the root histogram (`leaves × bins` additions
//! instead of `rows × features`; the root was more than half of all rows
//! histogrammed). The integer gradients then drift from `g_r / s` by at
//! most ½ per round; when they approach the packing's limit, or every 64
//! rounds, they are quantised again from the exact gradients and the root
//! is built once more.
//!
//! # Measured layout choice
//! Histograms are built column by column (one feature's codes over a
//! leaf's rows, the code 64 rows ahead prefetched). A row-major
//! alternative (blocks of 64 features, one cache line per row and block,
//! LightGBM's row-wise mode) took 15 % more CPU time on a 50,000 × 256
//! layer (5 folds, raw and residual, one thread, both with the derived root
//! and separate `f64` sums and `u32` counts): a leaf's rows stay in
//! ascending order, so a column's codes are read forwards and one
//! feature's bins stay in L1, while a block's 64 histograms do not.
//! Measured the same way, the derived root took 23 % off the CPU time,
//! the packed integer sums 6 %, the prefetch 9 % and the three-pass split
//! search ([`super::splitting`]) 27 %.

use std::ops::Range;

use rayon::prelude::*;

use super::binning::{BinMapper, Binned};
use super::histogram::{build_feature, subtract_feature, Histogram, Packing};
use super::predictor::{Node, Tree};
use super::splitting::{best_split_feature, better, leaf_value, LeafTotals, Split};

/// A split step with fewer `(rows + 256) × features` than this runs on one
/// thread (smaller work costs less than rayon's hand-off).
const PARALLEL_WORK: usize = 1 << 16;

/// A search over at least this many bins runs its features in parallel.
const PARALLEL_BINS: usize = 4096;

/// Validated tree-shape parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TreeParams {
    /// Maximum number of leaves (≥ 2).
    pub max_leaves: usize,
    /// Maximum depth (root = 0), `None` for unlimited.
    pub max_depth: Option<usize>,
    /// Minimum rows per leaf (≥ 1).
    pub min_leaf: u32,
    /// L2 penalty λ on leaf values (≥ 0).
    pub l2: f64,
}

/// Rounds after which the integer gradients are quantised afresh.
const REQUANTISE: usize = 64;

/// Levels of `|q|` given to the largest gradient when quantising; the
/// packing's limit is at least 4 times this, or bounds it.
const LEVELS: i64 = 1 << 30;

/// A leaf while the tree grows.
struct Leaf {
    rows: Range<usize>,
    grad: i64,
    depth: usize,
    node: usize,
    hist: Histogram,
    split: Option<Split>,
}

/// Buffers of one fit, reused by all its trees.
pub struct Workspace {
    /// Row indices; each leaf owns a range.
    index: Vec<u32>,
    /// Rows going right during a split.
    scratch: Vec<u32>,
    /// Packed integer gradients of a leaf's rows, in its row order.
    ordered: Vec<i64>,
    /// Packed integer gradient of every row ([`Packing::row`]).
    packed: Vec<i64>,
    /// Gradient per integer unit.
    scale: f64,
    /// The layout of the packed sums.
    packing: Packing,
    /// The root histogram of the next tree's gradients, when the last tree
    /// derived it.
    root: Option<Histogram>,
    /// Trees grown since the last quantisation.
    since: usize,
    /// Free histograms.
    free: Vec<Histogram>,
}

impl Workspace {
    /// Buffers for trees on `binned`.
    pub fn new(binned: &Binned) -> Workspace {
        Workspace {
            index: Vec::with_capacity(binned.n),
            scratch: Vec::with_capacity(binned.n),
            ordered: Vec::with_capacity(binned.n),
            packed: vec![0; binned.n],
            scale: 0.0,
            packing: Packing::for_rows(binned.n),
            root: None,
            since: 0,
            free: Vec::new(),
        }
    }

    /// Rows of a leaf of the last grown tree.
    pub fn rows(&self, leaf: &Range<usize>) -> &[u32] {
        &self.index[leaf.clone()]
    }
}

/// A grown tree and, per leaf, its training rows and (unshrunk) value.
pub struct Grown {
    /// The tree, leaf values unshrunk.
    pub tree: Tree,
    /// `(rows, value)` per leaf in node order, `rows` a range of
    /// [`Workspace::rows`], for updating the training predictions.
    pub leaves: Vec<(Range<usize>, f64)>,
}

/// Integer gradient sum, rows and whether a new leaf may be split at all.
#[derive(Clone, Copy)]
struct Side {
    grad: i64,
    count: u32,
    searched: bool,
}

/// Fill `small` with the histogram of `rows` (packed integer gradients
/// `ordered`, in row order); if `large` is given it holds the parent's
/// histogram and becomes `parent − small`. Returns the best split of each
/// side that has totals.
fn build_and_search(
    binned: &Binned,
    rows: &[u32],
    ordered: &[i64],
    small: (&mut Histogram, Option<&LeafTotals>),
    large: Option<(&mut Histogram, Option<&LeafTotals>)>,
) -> (Option<Split>, Option<Split>) {
    let offsets = &binned.offsets;
    let (small_hist, small_leaf) = small;
    let parts = small_hist.per_feature(offsets);
    let (large_parts, large_leaf): (Vec<Option<&mut [i64]>>, _) = match large {
        Some((h, leaf)) => (h.per_feature(offsets).into_iter().map(Some).collect(), leaf),
        None => ((0..binned.d).map(|_| None).collect(), None),
    };
    let work = |(f, (h, l)): (usize, (&mut [i64], Option<&mut [i64]>))| {
        build_feature(binned.column(f), rows, ordered, h);
        let s = small_leaf.and_then(|leaf| best_split_feature(leaf, f, h));
        let t = l.and_then(|lh| {
            subtract_feature(lh, h);
            large_leaf.and_then(|leaf| best_split_feature(leaf, f, lh))
        });
        (s, t)
    };
    let combine = |a: (Option<Split>, Option<Split>), b: (Option<Split>, Option<Split>)| {
        (better(a.0, b.0), better(a.1, b.1))
    };
    // The candidates' order is total (see `better`), so the parallel
    // reduction picks the same split as the sequential one.
    if (rows.len() + 256) * binned.d >= PARALLEL_WORK {
        parts
            .into_par_iter()
            .zip(large_parts)
            .enumerate()
            .map(work)
            .reduce(|| (None, None), combine)
    } else {
        parts
            .into_iter()
            .zip(large_parts)
            .enumerate()
            .map(work)
            .fold((None, None), combine)
    }
}

/// Best split of a leaf whose histogram `hist` is complete (a derived root).
fn search(binned: &Binned, hist: &Histogram, leaf: Option<&LeafTotals>) -> Option<Split> {
    let leaf = leaf?;
    let one = |f: usize| best_split_feature(leaf, f, hist.feature(&binned.offsets, f));
    if binned.offsets[binned.d] >= PARALLEL_BINS {
        (0..binned.d)
            .into_par_iter()
            .map(one)
            .reduce(|| None, better)
    } else {
        (0..binned.d).map(one).fold(None, better)
    }
}

/// Set the integer gradients from the exact ones: the largest `|g|` gets
/// [`LEVELS`] (or the packing's limit, if lower) units.
fn quantise(grad: &[f64], packed: &mut [i64], packing: Packing) -> f64 {
    let top = grad.iter().fold(0.0f64, |m, g| m.max(g.abs()));
    let levels = LEVELS.min(packing.limit() / 4).max(1);
    let scale = if top > 0.0 { top / levels as f64 } else { 1.0 };
    for (p, &g) in packed.iter_mut().zip(grad) {
        *p = packing.row((g / scale).round() as i64);
    }
    scale
}

/// Stable in-place partition of `index[range]` by `codes[r] ≤ bin`;
/// returns the number of rows going left.
fn partition(
    index: &mut [u32],
    scratch: &mut Vec<u32>,
    range: Range<usize>,
    codes: &[u8],
    bin: usize,
) -> usize {
    scratch.clear();
    let start = range.start;
    let mut w = start;
    for k in range {
        let r = index[k];
        if codes[r as usize] as usize <= bin {
            index[w] = r;
            w += 1;
        } else {
            scratch.push(r);
        }
    }
    index[w..w + scratch.len()].copy_from_slice(scratch);
    w - start
}

/// Grow one tree on the gradients `grad` (one per row of `binned`).
///
/// With `shrink = Some(η)` the caller promises that the next call's
/// gradients are these plus `η · value_L` for the rows of each leaf `L`
/// (it adds the leaf values times the learning rate to its predictions),
/// and the next tree's root histogram is derived from this tree's leaves
/// (see the module docs), when that costs less than building it (`max_leaves
/// × bins < rows × features`). Otherwise, and with `None`, every tree
/// quantises and builds its root afresh.
pub fn grow(
    binned: &Binned,
    mapper: &BinMapper,
    grad: &[f64],
    p: &TreeParams,
    shrink: Option<f64>,
    ws: &mut Workspace,
) -> Grown {
    let n = binned.n;
    let Workspace {
        index,
        scratch,
        ordered,
        packed,
        scale,
        packing,
        root,
        since,
        free,
    } = ws;
    let pk = *packing;
    let mut take = || free.pop().unwrap_or_else(|| Histogram::zeros(binned));
    let may_split = |depth: usize| p.max_depth.is_none_or(|d| depth < d);

    index.clear();
    index.extend(0..n as u32);
    // Deriving the root costs `leaves × bins`, building it `rows × features`.
    let shrink = shrink.filter(|_| p.max_leaves * binned.offsets[binned.d] < n * binned.d);
    let derived = if shrink.is_some() && *since < REQUANTISE {
        root.take()
    } else {
        None
    };
    if derived.is_none() {
        *scale = quantise(grad, packed, pk);
        *since = 0;
    }
    *since += 1;
    let root_grad: i64 = packed.iter().map(|&v| pk.grad(v)).sum();
    let totals = may_split(0)
        .then(|| LeafTotals::new(root_grad, pk, n as u32, p.min_leaf, p.l2))
        .flatten();
    let (hist, split) = match derived {
        Some(h) => {
            let split = search(binned, &h, totals.as_ref());
            (h, split)
        }
        None => {
            let mut h = take();
            let (split, _) =
                build_and_search(binned, index, packed, (&mut h, totals.as_ref()), None);
            (h, split)
        }
    };
    // The next root starts as a copy of this one, which becomes a child's
    // histogram by subtraction while the tree grows.
    let mut next_root = shrink.map(|_| {
        let mut h = take();
        h.bins.copy_from_slice(&hist.bins);
        h
    });
    let mut nodes = vec![Node::Leaf { value: 0.0 }];
    let mut leaves = vec![Leaf {
        grad: root_grad,
        rows: 0..n,
        depth: 0,
        node: 0,
        hist,
        split,
    }];

    while leaves.len() < p.max_leaves {
        // The leaf with the largest gain; ties keep the earliest leaf.
        let mut pick: Option<(usize, f64)> = None;
        for (i, l) in leaves.iter().enumerate() {
            if let Some(s) = l.split {
                if pick.is_none_or(|(_, g)| s.gain > g) {
                    pick = Some((i, s.gain));
                }
            }
        }
        let Some((i, _)) = pick else { break };
        let parent = leaves.swap_remove(i);
        let s = parent.split.expect("picked leaves have a split");
        let n_left = partition(
            index,
            scratch,
            parent.rows.clone(),
            binned.column(s.feature),
            s.bin,
        );
        debug_assert_eq!(n_left, s.left_count as usize);
        let mid = parent.rows.start + n_left;
        let (left_rows, right_rows) = (parent.rows.start..mid, mid..parent.rows.end);

        let depth = parent.depth + 1;
        // Children of the split that fills the tree are never split.
        let searched = may_split(depth) && leaves.len() + 2 < p.max_leaves;
        let left = Side {
            grad: s.left_grad,
            count: s.left_count,
            searched,
        };
        let right = Side {
            grad: parent.grad - s.left_grad,
            count: parent.rows.len() as u32 - s.left_count,
            searched,
        };
        // Build the smaller child; the larger is parent − smaller.
        let left_small = left_rows.len() <= right_rows.len();
        let (small, large) = if left_small {
            (left, right)
        } else {
            (right, left)
        };
        let small_rows = if left_small { &left_rows } else { &right_rows };
        let totals = |side: Side| {
            side.searched
                .then(|| LeafTotals::new(side.grad, pk, side.count, p.min_leaf, p.l2))
                .flatten()
        };
        let (small_totals, large_totals) = (totals(small), totals(large));
        let rows = &index[small_rows.clone()];
        ordered.clear();
        ordered.extend(rows.iter().map(|&r| packed[r as usize]));
        let mut small_hist = take();
        let mut large_hist = parent.hist;
        let (small_split, large_split) = build_and_search(
            binned,
            rows,
            ordered,
            (&mut small_hist, small_totals.as_ref()),
            Some((&mut large_hist, large_totals.as_ref())),
        );
        let (left_hist, right_hist, left_split, right_split) = if left_small {
            (small_hist, large_hist, small_split, large_split)
        } else {
            (large_hist, small_hist, large_split, small_split)
        };

        let (l_node, r_node) = (nodes.len(), nodes.len() + 1);
        let feature = binned.features[s.feature];
        nodes[parent.node] = Node::Split {
            feature: feature as u32,
            threshold: mapper.thresholds[feature][s.bin],
            left: l_node as u32,
            right: r_node as u32,
        };
        nodes.push(Node::Leaf { value: 0.0 });
        nodes.push(Node::Leaf { value: 0.0 });
        for (rows, side, hist, node, split) in [
            (left_rows, left, left_hist, l_node, left_split),
            (right_rows, right, right_hist, r_node, right_split),
        ] {
            leaves.push(Leaf {
                rows,
                grad: side.grad,
                depth,
                node,
                hist,
                split,
            });
        }
    }

    // Leaves in node order, so the output does not depend on pick order.
    leaves.sort_by_key(|l| l.node);
    let mut out = Vec::with_capacity(leaves.len());
    let mut in_range = true;
    for l in leaves {
        // The exact gradient sum, in row order.
        let g: f64 = index[l.rows.clone()]
            .iter()
            .map(|&r| grad[r as usize])
            .sum();
        let value = leaf_value(g, l.rows.len() as f64, p.l2);
        nodes[l.node] = Node::Leaf { value };
        if let (Some(eta), Some(next)) = (shrink, next_root.as_mut()) {
            let dq = (eta * value / *scale).round() as i64;
            if dq != 0 {
                let step = pk.change(dq);
                // Wrapping: sums past the limit are discarded below.
                for &r in &index[l.rows.clone()] {
                    let v = &mut packed[r as usize];
                    *v = v.wrapping_add(step);
                    in_range &= pk.grad(*v).abs() <= pk.limit();
                }
                for (b, &c) in next.bins.iter_mut().zip(&l.hist.bins) {
                    *b = b.wrapping_add(pk.change(dq.wrapping_mul(pk.count(c) as i64)));
                }
            }
        }
        out.push((l.rows, value));
        free.push(l.hist);
    }
    // Out of range, the next tree quantises afresh.
    *root = next_root.filter(|_| in_range);
    Grown {
        tree: Tree { nodes },
        leaves: out,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn a_two_leaf_tree_by_hand() {
        // y = (1, 1, 1, 5, 5, 5) on x = (1..6); prediction 0, so g = −y.
        let x = array![[1.0], [2.0], [3.0], [4.0], [5.0], [6.0]];
        let mapper = BinMapper::fit(x.view(), 255);
        let binned = mapper.transform(x.view());
        let grad = [-1.0, -1.0, -1.0, -5.0, -5.0, -5.0];
        let p = TreeParams {
            max_leaves: 2,
            max_depth: None,
            min_leaf: 1,
            l2: 1.0,
        };
        let mut ws = Workspace::new(&binned);
        let g = grow(&binned, &mapper, &grad, &p, None, &mut ws);
        assert_eq!(g.tree.leaves(), 2);
        match g.tree.nodes[0] {
            Node::Split {
                feature, threshold, ..
            } => {
                assert_eq!(feature, 0);
                assert_eq!(threshold, 3.5);
            }
            _ => panic!("root must split"),
        }
        // Values −G/(n+λ): left 3/4, right 15/4.
        assert_eq!(g.leaves[0], (0..3, 0.75));
        assert_eq!(g.leaves[1], (3..6, 3.75));
        assert_eq!(ws.rows(&g.leaves[1].0), &[3, 4, 5]);
        assert_eq!(g.tree.predict_row(array![3.5].view()), 0.75);
        assert_eq!(g.tree.predict_row(array![3.6].view()), 3.75);
    }

    #[test]
    fn min_leaf_and_depth_stop_growth() {
        let x = ndarray::Array2::from_shape_fn((40, 1), |(i, _)| i as f64);
        let mapper = BinMapper::fit(x.view(), 255);
        let binned = mapper.transform(x.view());
        let grad: Vec<f64> = (0..40).map(|i| ((i * 13) % 7) as f64 - 3.0).collect();
        let p = TreeParams {
            max_leaves: 31,
            max_depth: None,
            min_leaf: 10,
            l2: 0.0,
        };
        let mut ws = Workspace::new(&binned);
        let g = grow(&binned, &mapper, &grad, &p, None, &mut ws);
        assert!(g.tree.leaves() <= 4);
        assert!(g.leaves.iter().all(|(r, _)| r.len() >= 10));
        let shallow = grow(
            &binned,
            &mapper,
            &grad,
            &TreeParams {
                max_depth: Some(1),
                min_leaf: 1,
                ..p
            },
            None,
            &mut ws,
        );
        assert_eq!(shallow.tree.leaves(), 2);
    }
    #[test]
    fn the_derived_root_is_the_histogram_of_the_tracked_gradients() {
        // 2000 rows × 5 features outweigh 8 leaves × 485 bins: derived.
        let n = 2000;
        let x = ndarray::Array2::from_shape_fn((n, 5), |(i, j)| ((i * (3 + 2 * j)) % 97) as f64);
        let y: Vec<f64> = (0..n)
            .map(|i| (x[(i, 0)] / 10.0).sin() * 3.0 + x[(i, 2)] / 50.0 + (i % 7) as f64 * 0.1)
            .collect();
        let mapper = BinMapper::fit(x.view(), 255);
        let binned = mapper.transform(x.view());
        let p = TreeParams {
            max_leaves: 8,
            max_depth: None,
            min_leaf: 5,
            l2: 0.5,
        };
        let eta = 0.3;
        let mut ws = Workspace::new(&binned);
        let mut pred = vec![y.iter().sum::<f64>() / n as f64; n];
        for round in 0..2 * REQUANTISE + 3 {
            let grad: Vec<f64> = pred.iter().zip(&y).map(|(p, t)| p - t).collect();
            let g = grow(&binned, &mapper, &grad, &p, Some(eta), &mut ws);
            for (rows, value) in &g.leaves {
                for &r in ws.rows(rows) {
                    pred[r as usize] += eta * value;
                }
            }
            // The derived root is exactly the histogram of the tracked
            // integer gradients.
            let root = ws.root.clone().expect("in range");
            let mut direct = Histogram::zeros(&binned);
            let all: Vec<u32> = (0..n as u32).collect();
            for (f, h) in direct.per_feature(&binned.offsets).into_iter().enumerate() {
                build_feature(binned.column(f), &all, &ws.packed, h);
            }
            assert_eq!(root, direct, "round {round}");
            // Each tracked gradient is within ½ unit per round since the
            // last quantisation (+ ½ for that rounding) of the exact one.
            let since = ws.since as f64;
            for (r, &v) in ws.packed.iter().enumerate() {
                let exact = (pred[r] - y[r]) / ws.scale;
                let q = ws.packing.grad(v) as f64;
                assert!(
                    (q - exact).abs() <= 0.5 * (since + 1.0) + 1e-6,
                    "round {round}"
                );
            }
        }
    }
}
