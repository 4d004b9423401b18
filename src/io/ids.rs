//! Row ids, packed: every id in one string buffer with the end offset of
//! each. A `Vec<String>` costs about 56 bytes per short id (the `String`
//! and its own heap block); packed, a 7-character id costs 15. At millions
//! of rows the ids were the largest table a run kept.

use std::ops::Index;

/// A list of ids (strings), packed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ids {
    text: String,
    ends: Vec<usize>,
}

impl Ids {
    /// No ids.
    pub fn new() -> Ids {
        Ids::default()
    }

    /// Append `id`.
    pub fn push(&mut self, id: &str) {
        self.text.push_str(id);
        self.ends.push(self.text.len());
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The `i`-th id.
    pub fn get(&self, i: usize) -> &str {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.text[start..self.ends[i]]
    }

    /// Every id, in order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }

    /// Release spare capacity.
    pub fn shrink_to_fit(&mut self) {
        self.text.shrink_to_fit();
        self.ends.shrink_to_fit();
    }

    /// The ids as owned strings.
    pub fn to_vec(&self) -> Vec<String> {
        self.iter().map(str::to_owned).collect()
    }
}

impl Index<usize> for Ids {
    type Output = str;

    fn index(&self, i: usize) -> &str {
        self.get(i)
    }
}

impl<S: AsRef<str>> FromIterator<S> for Ids {
    fn from_iter<I: IntoIterator<Item = S>>(iter: I) -> Ids {
        let mut ids = Ids::new();
        for s in iter {
            ids.push(s.as_ref());
        }
        ids
    }
}

impl<S: AsRef<str>> PartialEq<Vec<S>> for Ids {
    fn eq(&self, other: &Vec<S>) -> bool {
        self.len() == other.len() && self.iter().zip(other).all(|(a, b)| a == b.as_ref())
    }
}

/// Read access to a list of ids, packed or not (for code that takes either).
pub trait IdList {
    /// Number of ids.
    fn count(&self) -> usize;
    /// The `i`-th id.
    fn id(&self, i: usize) -> &str;
}

impl IdList for Ids {
    fn count(&self) -> usize {
        self.len()
    }
    fn id(&self, i: usize) -> &str {
        self.get(i)
    }
}

impl IdList for [String] {
    fn count(&self) -> usize {
        self.len()
    }
    fn id(&self, i: usize) -> &str {
        &self[i]
    }
}

impl IdList for Vec<String> {
    fn count(&self) -> usize {
        self.len()
    }
    fn id(&self, i: usize) -> &str {
        &self[i]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_ids_read_back_in_order_including_empty_and_unicode() {
        let ids: Ids = ["a1", "", "Fe₂O₃", "qm9_000123"].into_iter().collect();
        assert_eq!(ids.len(), 4);
        assert_eq!(&ids[2], "Fe₂O₃");
        assert_eq!(ids.get(1), "");
        assert_eq!(ids, vec!["a1", "", "Fe₂O₃", "qm9_000123"]);
        assert_eq!(ids.iter().nth(3), Some("qm9_000123"));
        assert_eq!(ids.to_vec()[0], "a1");
        assert!(Ids::new().is_empty());
        assert_eq!(ids.id(3), ids.get(3));
    }
}
