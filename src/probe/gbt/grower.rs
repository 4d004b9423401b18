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
//! each leaf's rows stay in ascending order and its histogram sums do not
//! depend on the order of earlier splits). Buffers live in a [`Workspace`]
//! reused by every tree of a fit.

use std::ops::Range;

use rayon::prelude::*;

use super::binning::{BinMapper, Binned};
use super::histogram::{build_feature, subtract_feature, Histogram};
use super::predictor::{Node, Tree};
use super::splitting::{best_split_feature, better, leaf_value, LeafTotals, Reciprocals, Split};

/// A split step with fewer `(rows + 256) × features` than this runs on one
/// thread (smaller work costs less than rayon's hand-off).
const PARALLEL_WORK: usize = 1 << 16;

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

/// A leaf while the tree grows.
struct Leaf {
    rows: Range<usize>,
    grad: f64,
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
    /// Gradients of a leaf's rows, in its row order.
    ordered: Vec<f64>,
    /// Free histograms.
    free: Vec<Histogram>,
    /// `1/(k + λ)` for the split search.
    inv: Reciprocals,
    /// Reciprocal pairs of the two leaves searched in one pass.
    pairs: [Vec<[f64; 2]>; 2],
}

impl Workspace {
    /// Buffers for trees on `binned` with penalty `l2`.
    pub fn new(binned: &Binned, l2: f64) -> Workspace {
        Workspace {
            index: Vec::with_capacity(binned.n),
            scratch: Vec::with_capacity(binned.n),
            ordered: Vec::with_capacity(binned.n),
            free: Vec::new(),
            inv: Reciprocals::new(binned.n, l2),
            pairs: [Vec::new(), Vec::new()],
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

/// Gradient sum, rows and whether a new leaf may be split at all.
#[derive(Clone, Copy)]
struct Side {
    grad: f64,
    count: u32,
    searched: bool,
}

/// Fill `small` with the histogram of `rows` (gradients `ordered`, in row
/// order); if `large` is given it holds the parent's histogram and becomes
/// `parent − small`. Returns the best split of each side that has totals.
fn build_and_search(
    binned: &Binned,
    rows: &[u32],
    ordered: &[f64],
    small: (&mut Histogram, Option<&LeafTotals<'_>>),
    large: Option<(&mut Histogram, Option<&LeafTotals<'_>>)>,
) -> (Option<Split>, Option<Split>) {
    let offsets = &binned.offsets;
    let (small_hist, small_leaf) = small;
    let (sg, sc) = small_hist.per_feature(offsets);
    let (large_parts, large_leaf): (Vec<Option<_>>, _) = match large {
        Some((h, leaf)) => {
            let (lg, lc) = h.per_feature(offsets);
            (lg.into_iter().zip(lc).map(Some).collect(), leaf)
        }
        None => ((0..binned.d).map(|_| None).collect(), None),
    };
    type Parts<'s> = (
        (&'s mut [f64], &'s mut [u32]),
        Option<(&'s mut [f64], &'s mut [u32])>,
    );
    let work = |(f, ((g, c), l)): (usize, Parts<'_>)| {
        build_feature(binned.column(f), rows, ordered, g, c);
        let s = small_leaf.and_then(|leaf| best_split_feature(leaf, f, g, c));
        let t = l.and_then(|(lg, lc)| {
            subtract_feature(lg, lc, g, c);
            large_leaf.and_then(|leaf| best_split_feature(leaf, f, lg, lc))
        });
        (s, t)
    };
    let combine = |a: (Option<Split>, Option<Split>), b: (Option<Split>, Option<Split>)| {
        (better(a.0, b.0), better(a.1, b.1))
    };
    // The candidates' order is total (see `better`), so the parallel
    // reduction picks the same split as the sequential one.
    if (rows.len() + 256) * binned.d >= PARALLEL_WORK {
        sg.into_par_iter()
            .zip(sc)
            .zip(large_parts)
            .enumerate()
            .map(work)
            .reduce(|| (None, None), combine)
    } else {
        sg.into_iter()
            .zip(sc)
            .zip(large_parts)
            .enumerate()
            .map(work)
            .fold((None, None), combine)
    }
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
pub fn grow(
    binned: &Binned,
    mapper: &BinMapper,
    grad: &[f64],
    p: &TreeParams,
    ws: &mut Workspace,
) -> Grown {
    let n = binned.n;
    let Workspace {
        index,
        scratch,
        ordered,
        free,
        inv,
        pairs,
    } = ws;
    let [pairs_a, pairs_b] = pairs;
    let mut take = || free.pop().unwrap_or_else(|| Histogram::zeros(binned));
    let may_split = |depth: usize| p.max_depth.is_none_or(|d| depth < d);

    index.clear();
    index.extend(0..n as u32);
    let root_grad: f64 = grad.iter().sum();
    let mut hist = take();
    let totals = may_split(0)
        .then(|| LeafTotals::new(root_grad, n as u32, p.min_leaf, inv, pairs_a))
        .flatten();
    let (split, _) = build_and_search(binned, index, grad, (&mut hist, totals.as_ref()), None);
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
        let totals = |side: Side, buf| {
            side.searched
                .then(|| LeafTotals::new(side.grad, side.count, p.min_leaf, inv, buf))
                .flatten()
        };
        let (small_totals, large_totals) =
            (totals(small, &mut *pairs_a), totals(large, &mut *pairs_b));
        let rows = &index[small_rows.clone()];
        ordered.clear();
        ordered.extend(rows.iter().map(|&r| grad[r as usize]));
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
    for l in leaves {
        let value = leaf_value(l.grad, l.rows.len() as f64, p.l2);
        nodes[l.node] = Node::Leaf { value };
        out.push((l.rows, value));
        free.push(l.hist);
    }
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
        let mut ws = Workspace::new(&binned, p.l2);
        let g = grow(&binned, &mapper, &grad, &p, &mut ws);
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
        let mut ws = Workspace::new(&binned, p.l2);
        let g = grow(&binned, &mapper, &grad, &p, &mut ws);
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
            &mut ws,
        );
        assert_eq!(shallow.tree.leaves(), 2);
    }
}
