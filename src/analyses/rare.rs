//! Rare elements: an element present in fewer than [`RARE_TRAINING`]
//! training structures of some fold. Its composition column is fitted on a
//! handful of rows there, and a held-out structure that owns it is
//! predicted from that column (the regime of crystal sets, where most of
//! 80-odd elements occur in a few structures). The projection removes its
//! column exactly all the same; what is named here is where a probe's
//! numbers rest on few structures.

use ndarray::ArrayView2;

use crate::flow::folds::Folds;
use crate::report::RareElement;

/// An element in fewer training structures of a fold than this is rare.
pub const RARE_TRAINING: usize = 5;

/// The rare elements of `composition` (`n × k`, columns `columns`) under
/// `folds`, rarest first (by their fewest training structures, then by
/// column order).
pub fn rare_elements(
    composition: ArrayView2<'_, f64>,
    columns: &[String],
    folds: &Folds,
) -> Vec<RareElement> {
    let mut out = Vec::new();
    for (j, name) in columns.iter().enumerate() {
        let mut in_fold = vec![0usize; folds.k];
        for (i, &f) in folds.assignment.iter().enumerate() {
            if composition[(i, j)] != 0.0 {
                in_fold[f] += 1;
            }
        }
        let structures: usize = in_fold.iter().sum();
        let training: Vec<usize> = in_fold.iter().map(|&c| structures - c).collect();
        let fewest = training.iter().copied().min().unwrap_or(0);
        if fewest >= RARE_TRAINING {
            continue;
        }
        out.push(RareElement {
            element: name.clone(),
            structures,
            fewest_training: fewest,
            folds: (0..folds.k)
                .filter(|&f| training[f] < RARE_TRAINING)
                .collect(),
        });
    }
    out.sort_by_key(|r| r.fewest_training);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn an_element_in_few_training_structures_of_a_fold_is_named_with_its_folds() {
        // 10 rows in 2 folds (rows 0-4 fold 0, 5-9 fold 1); A in every row,
        // B in rows 0-5 (training: 1 structure in fold 0, 5 in fold 1),
        // C in row 9 only (training: 1 in fold 0, 0 in fold 1), D nowhere.
        let mut c = Array2::<f64>::zeros((10, 4));
        for i in 0..10 {
            c[(i, 0)] = 1.0;
        }
        for i in 0..6 {
            c[(i, 1)] = 2.0;
        }
        c[(9, 2)] = 0.5;
        let folds = Folds {
            k: 2,
            assignment: (0..10).map(|i| i / 5).collect(),
        };
        let cols: Vec<String> = ["A", "B", "C", "D"].iter().map(|s| s.to_string()).collect();
        let r = rare_elements(c.view(), &cols, &folds);
        let names: Vec<&str> = r.iter().map(|r| r.element.as_str()).collect();
        assert_eq!(names, ["C", "D", "B"]);
        assert_eq!((r[0].structures, r[0].fewest_training), (1, 0));
        assert_eq!(r[0].folds, [0, 1]);
        assert_eq!((r[2].structures, r[2].fewest_training), (6, 1));
        assert_eq!(r[2].folds, [0]);
    }
}
