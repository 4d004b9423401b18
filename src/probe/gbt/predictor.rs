//! A fitted tree as a flat node array, evaluated on raw feature values.

use ndarray::ArrayView1;

/// One node: an internal split or a leaf.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Node {
    /// Rows with `x[feature] ≤ threshold` go to `left`, others to `right`.
    Split {
        /// Feature index.
        feature: u32,
        /// Raw-value threshold (a bin's upper edge).
        threshold: f64,
        /// Index of the left child.
        left: u32,
        /// Index of the right child.
        right: u32,
    },
    /// Output added to the prediction (shrinkage already applied).
    Leaf {
        /// Leaf value.
        value: f64,
    },
}

/// A regression tree; node 0 is the root.
#[derive(Debug, Clone, PartialEq)]
pub struct Tree {
    /// Nodes, root first.
    pub nodes: Vec<Node>,
}

impl Tree {
    /// The output for one row of raw features.
    pub fn predict_row(&self, x: ArrayView1<'_, f64>) -> f64 {
        let mut i = 0usize;
        loop {
            match self.nodes[i] {
                Node::Leaf { value } => return value,
                Node::Split {
                    feature,
                    threshold,
                    left,
                    right,
                } => {
                    i = if x[feature as usize] <= threshold {
                        left as usize
                    } else {
                        right as usize
                    };
                }
            }
        }
    }

    /// Number of leaves.
    pub fn leaves(&self) -> usize {
        self.nodes
            .iter()
            .filter(|n| matches!(n, Node::Leaf { .. }))
            .count()
    }
}
