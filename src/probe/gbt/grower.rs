//! Leaf-wise (best-first) tree growth, as LightGBM's
//! `SerialTreeLearner::Train` and scikit-learn's `TreeGrower`: repeatedly
//! split the leaf whose best split gains most, until `max_leaves` leaves or
//! no split has positive gain.

use super::binning::{BinMapper, Binned};
use super::histogram::Histogram;
use super::predictor::{Node, Tree};
use super::splitting::{best_split, leaf_value, Split};

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
    rows: Vec<u32>,
    grad: f64,
    depth: usize,
    node: usize,
    hist: Histogram,
    split: Option<Split>,
}

/// A grown tree and, per leaf, its training rows and (unshrunk) value.
pub struct Grown {
    /// The tree, leaf values unshrunk.
    pub tree: Tree,
    /// `(rows, value)` per leaf, for updating the training predictions.
    pub leaves: Vec<(Vec<u32>, f64)>,
}

fn find_split(leaf: &Leaf, binned: &Binned, p: &TreeParams) -> Option<Split> {
    let n = leaf.rows.len() as u32;
    if p.max_depth.is_some_and(|d| leaf.depth >= d) || n < 2 * p.min_leaf {
        return None;
    }
    best_split(
        &leaf.hist,
        &binned.n_bins,
        &binned.offsets,
        leaf.grad,
        n,
        p.min_leaf,
        p.l2,
    )
}

fn ordered(grad: &[f64], rows: &[u32]) -> Vec<f64> {
    rows.iter().map(|&r| grad[r as usize]).collect()
}

/// Histogram buffers reused across the splits and rounds of one fit.
#[derive(Default)]
pub struct HistPool {
    free: Vec<Histogram>,
}

impl HistPool {
    fn take(&mut self, binned: &Binned) -> Histogram {
        self.free.pop().unwrap_or_else(|| Histogram::zeros(binned))
    }
}

/// Grow one tree on the gradients `grad` (one per row of `binned`).
pub fn grow(
    binned: &Binned,
    mapper: &BinMapper,
    grad: &[f64],
    p: &TreeParams,
    pool: &mut HistPool,
) -> Grown {
    let rows: Vec<u32> = (0..binned.n as u32).collect();
    let mut hist = pool.take(binned);
    hist.build(binned, &rows, grad);
    let mut root = Leaf {
        grad: grad.iter().sum(),
        rows,
        depth: 0,
        node: 0,
        hist,
        split: None,
    };
    root.split = find_split(&root, binned, p);
    let mut nodes = vec![Node::Leaf { value: 0.0 }];
    let mut leaves = vec![root];

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
        let col = binned.column(s.feature);
        let (left_rows, right_rows): (Vec<u32>, Vec<u32>) = parent
            .rows
            .iter()
            .partition(|&&r| col[r as usize] as usize <= s.bin);

        // Build the smaller child; the larger is parent − smaller.
        let left_small = left_rows.len() <= right_rows.len();
        let mut small_hist = pool.take(binned);
        let small_rows = if left_small { &left_rows } else { &right_rows };
        small_hist.build(binned, small_rows, &ordered(grad, small_rows));
        let mut large_hist = parent.hist;
        large_hist.subtract(&small_hist);
        let (left_hist, right_hist) = if left_small {
            (small_hist, large_hist)
        } else {
            (large_hist, small_hist)
        };

        let (l_node, r_node) = (nodes.len(), nodes.len() + 1);
        nodes[parent.node] = Node::Split {
            feature: s.feature as u32,
            threshold: mapper.thresholds[s.feature][s.bin],
            left: l_node as u32,
            right: r_node as u32,
        };
        nodes.push(Node::Leaf { value: 0.0 });
        nodes.push(Node::Leaf { value: 0.0 });
        let depth = parent.depth + 1;
        for (rows, g, hist, node) in [
            (left_rows, s.left_grad, left_hist, l_node),
            (right_rows, parent.grad - s.left_grad, right_hist, r_node),
        ] {
            let mut leaf = Leaf {
                rows,
                grad: g,
                depth,
                node,
                hist,
                split: None,
            };
            leaf.split = find_split(&leaf, binned, p);
            leaves.push(leaf);
        }
    }

    // Leaves in node order, so the output does not depend on pick order.
    leaves.sort_by_key(|l| l.node);
    let mut out = Vec::with_capacity(leaves.len());
    for l in leaves {
        let value = leaf_value(l.grad, l.rows.len() as f64, p.l2);
        nodes[l.node] = Node::Leaf { value };
        out.push((l.rows, value));
        pool.free.push(l.hist);
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
        let g = grow(&binned, &mapper, &grad, &p, &mut HistPool::default());
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
        assert_eq!(g.leaves[0], (vec![0, 1, 2], 0.75));
        assert_eq!(g.leaves[1], (vec![3, 4, 5], 3.75));
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
        let g = grow(&binned, &mapper, &grad, &p, &mut HistPool::default());
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
            &mut HistPool::default(),
        );
        assert_eq!(shallow.tree.leaves(), 2);
    }
}
