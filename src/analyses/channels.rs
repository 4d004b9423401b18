//! Channel groups: an embedding's columns split into named groups, each
//! probed on its own, to see which channels carry a target (the paper's
//! "routing": dipole through L = 1 channels, the gap through L = 0).
//!
//! Groups come from an e3nn irreps string (`128x0e+64x1o+32x2e`: `mul` copies
//! of an irrep of degree `L` and parity `e`/`o`, laid out as e3nn does —
//! each copy's `2L+1` components contiguous, copies one after another, terms
//! in order) or from explicit column ranges (`name=start:end`, end
//! exclusive). For irreps, `L > 0` groups are by default reduced to
//! rotation invariants: each copy's `2L+1` components are replaced by their
//! Euclidean norm, so invariant targets can be probed.

use ndarray::{Array2, ArrayView2};

use crate::error::{CpdError, Result};
use crate::io::embeddings::Values;
use crate::report::{ResultRecord, RoutingRecord};

/// How an `L > 0` irrep enters its group's features.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Invariants {
    /// The norm of each copy's `2L+1` components (one feature per copy).
    Norms,
    /// The raw components.
    Components,
}

/// One group of columns.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    /// Name in reports (`128x0e`, or the user's name).
    pub name: String,
    /// First column.
    pub start: usize,
    /// One past the last column.
    pub end: usize,
    /// Components per copy (`2L+1`; 1 for column ranges).
    pub components: usize,
}

/// How a layer is split.
#[derive(Debug, Clone, PartialEq)]
pub struct ChannelSpec {
    /// The groups, in order.
    pub groups: Vec<Group>,
    /// Whether `L > 0` groups become norms.
    pub invariants: Invariants,
    /// The text it came from (for error messages and reports).
    pub source: String,
}

impl ChannelSpec {
    /// Parse an e3nn irreps string such as `128x0e+64x1o+32x2e`.
    pub fn irreps(text: &str, invariants: Invariants) -> Result<ChannelSpec> {
        let bad = |why: String| CpdError::Invalid(format!("irreps '{text}': {why}"));
        let mut groups: Vec<Group> = Vec::new();
        let mut col = 0usize;
        for term in text.split('+').map(str::trim) {
            let (mul, irrep) = match term.split_once('x') {
                Some((m, i)) => (
                    m.trim()
                        .parse::<usize>()
                        .map_err(|_| bad(format!("'{term}': multiplicity '{m}' is not a count")))?,
                    i.trim(),
                ),
                None => (1, term),
            };
            let parity = irrep
                .chars()
                .last()
                .map_or("", |c| &irrep[irrep.len() - c.len_utf8()..]);
            let l = &irrep[..irrep.len() - parity.len()];
            let l: usize = l.parse().map_err(|_| {
                bad(format!(
                    "'{term}': expected MULxLp, e.g. 64x1o (L a degree, p e or o)"
                ))
            })?;
            if !matches!(parity, "e" | "o" | "y") || mul == 0 {
                return Err(bad(format!(
                    "'{term}': expected MULxLp with MUL ≥ 1 and parity e or o, e.g. 64x1o"
                )));
            }
            let components = 2 * l + 1;
            let width = mul
                .checked_mul(components)
                .ok_or_else(|| bad(format!("'{term}' is too wide")))?;
            let mut name = format!("{mul}x{l}{parity}");
            let same = groups.iter().filter(|g| g.name.starts_with(&name)).count();
            if same > 0 {
                name = format!("{name}#{}", same + 1);
            }
            groups.push(Group {
                name,
                start: col,
                end: col + width,
                components,
            });
            col += width;
        }
        Ok(ChannelSpec {
            groups,
            invariants,
            source: text.to_owned(),
        })
    }

    /// Parse `name=start:end,...` column ranges (0-based, end exclusive).
    pub fn ranges(text: &str) -> Result<ChannelSpec> {
        let bad = |why: String| CpdError::Invalid(format!("channels '{text}': {why}"));
        let mut groups: Vec<Group> = Vec::new();
        for item in text.split(',').map(str::trim) {
            let (name, range) = item
                .split_once('=')
                .ok_or_else(|| bad(format!("'{item}': expected name=start:end")))?;
            let (a, b) = range
                .split_once(':')
                .ok_or_else(|| bad(format!("'{item}': expected name=start:end")))?;
            let (start, end) = match (a.trim().parse::<usize>(), b.trim().parse::<usize>()) {
                (Ok(s), Ok(e)) if s < e => (s, e),
                _ => {
                    return Err(bad(format!(
                        "'{item}': start and end must be column numbers with start < end"
                    )))
                }
            };
            let name = name.trim();
            if name.is_empty() || groups.iter().any(|g| g.name == name) {
                return Err(bad(format!(
                    "'{item}': group names must be non-empty and unique"
                )));
            }
            groups.push(Group {
                name: name.to_owned(),
                start,
                end,
                components: 1,
            });
        }
        Ok(ChannelSpec {
            groups,
            invariants: Invariants::Components,
            source: text.to_owned(),
        })
    }

    /// Check the groups against a layer of `cols` columns.
    pub fn check_width(&self, cols: usize, what: &str) -> Result<()> {
        let covered = self.groups.iter().map(|g| g.end).max().unwrap_or(0);
        let is_irreps =
            self.groups.iter().any(|g| g.components > 1) || self.invariants == Invariants::Norms;
        if (is_irreps && covered != cols) || covered > cols {
            return Err(CpdError::Invalid(format!(
                "{what} has {cols} columns but '{}' describes {covered}",
                self.source
            )));
        }
        Ok(())
    }

    /// The features of one group (`n × width`, or `n × copies` for norms).
    pub fn features(&self, group: &Group, h: &Values) -> Array2<f64> {
        let n = h.nrows();
        let norms = self.invariants == Invariants::Norms && group.components > 1;
        let width = group.end - group.start;
        let out_cols = if norms {
            width / group.components
        } else {
            width
        };
        let mut out = Array2::<f64>::zeros((n, out_cols));
        for (j, mut col) in out.columns_mut().into_iter().enumerate() {
            if norms {
                let first = group.start + j * group.components;
                for c in first..first + group.components {
                    let v = h.column_f64(c);
                    col.zip_mut_with(&v, |o, &x| *o += x * x);
                }
                col.mapv_inplace(f64::sqrt);
            } else {
                col.assign(&h.column_f64(group.start + j));
            }
        }
        out
    }
}

/// The features of a group from an f64 view (tests and callers without
/// [`Values`]).
pub fn features_of(spec: &ChannelSpec, group: &Group, h: ArrayView2<'_, f64>) -> Array2<f64> {
    spec.features(group, &Values::F64(h.to_owned()))
}

/// The label channel groups of different layers are compared under: the
/// irrep (`1o`) of an irreps group (`64x1o`), the name of any other.
pub fn group_key(name: &str) -> &str {
    match name.split_once('x') {
        Some((count, irrep)) if !count.is_empty() && count.chars().all(|c| c.is_ascii_digit()) => {
            irrep
        }
        _ => name,
    }
}

/// R²_geom of every channel-group record.
pub fn channel_routing(results: &[ResultRecord]) -> Vec<RoutingRecord> {
    results
        .iter()
        .filter(|r| r.representation == "geom")
        .filter_map(|r| {
            Some(RoutingRecord {
                model: r.model.clone(),
                layer: r.layer.clone(),
                group: r.channels.clone()?,
                target: r.target.clone(),
                probe: r.probe.clone(),
                r2_geom: r.r2_mean,
            })
        })
        .collect()
}

/// The channel groups of a layer's own irreps (the `irreps/LAYER` member
/// of the embedding file `path`), checked against the layer's width; errors
/// name the file and the member.
pub fn file_irreps(
    text: &str,
    ncols: usize,
    layer: &str,
    path: &std::path::Path,
) -> Result<ChannelSpec> {
    let inner = |e: CpdError| match e {
        CpdError::Invalid(m) => CpdError::format(path, format!("array 'irreps/{layer}': {m}")),
        other => other,
    };
    let spec = ChannelSpec::irreps(text, Invariants::Norms).map_err(inner)?;
    spec.check_width(ncols, &format!("layer '{layer}'"))
        .map_err(inner)?;
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_files_own_irreps_are_checked_against_the_layer() {
        let p = std::path::Path::new("w.npz");
        assert_eq!(file_irreps("2x0e+1x1o", 5, "l", p).unwrap().groups.len(), 2);
        for (text, expected) in [
            (
                "1x0e+1x1o",
                "w.npz: array 'irreps/l': layer 'l' has 5 columns but '1x0e+1x1o' describes 4",
            ),
            ("2x0q", "array 'irreps/l': irreps '2x0q'"),
        ] {
            let e = file_irreps(text, 5, "l", p).unwrap_err().to_string();
            assert!(e.contains(expected), "{e}");
        }
    }
    use ndarray::array;

    #[test]
    fn irreps_follow_the_e3nn_layout() {
        let s = ChannelSpec::irreps("2x0e+1x1o + 2x2e", Invariants::Norms).unwrap();
        let got: Vec<(&str, usize, usize, usize)> = s
            .groups
            .iter()
            .map(|g| (g.name.as_str(), g.start, g.end, g.components))
            .collect();
        assert_eq!(
            got,
            vec![("2x0e", 0, 2, 1), ("1x1o", 2, 5, 3), ("2x2e", 5, 15, 5)]
        );
        s.check_width(15, "layer l").unwrap();
        let e = s.check_width(16, "layer l").unwrap_err().to_string();
        assert!(
            e.contains("layer l has 16 columns but '2x0e+1x1o + 2x2e' describes 15"),
            "{e}"
        );
        for bad in ["64x1q", "x1o", "0x1o", "64xLo", "", "64x1é", "é"] {
            assert!(
                ChannelSpec::irreps(bad, Invariants::Norms).is_err(),
                "{bad}"
            );
        }
        let dup = ChannelSpec::irreps("4x0e+4x0e", Invariants::Norms).unwrap();
        assert_eq!(dup.groups[1].name, "4x0e#2");
    }

    #[test]
    fn norms_replace_each_copys_components() {
        // 1x0e then 2x1o: columns [s, a0 a1 a2, b0 b1 b2].
        let h = array![
            [5.0, 3.0, 4.0, 0.0, 1.0, 2.0, 2.0],
            [-1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
        ];
        let s = ChannelSpec::irreps("1x0e+2x1o", Invariants::Norms).unwrap();
        let l1 = features_of(&s, &s.groups[1], h.view());
        assert_eq!(l1, array![[5.0, 3.0], [0.0, 0.0]]);
        let l0 = features_of(&s, &s.groups[0], h.view());
        assert_eq!(l0, array![[5.0], [-1.0]]);
        let raw = ChannelSpec::irreps("1x0e+2x1o", Invariants::Components).unwrap();
        assert_eq!(features_of(&raw, &raw.groups[1], h.view()).ncols(), 6);
    }

    #[test]
    fn column_ranges() {
        let s = ChannelSpec::ranges("a=0:2, b=2:5").unwrap();
        assert_eq!((s.groups[1].start, s.groups[1].end), (2, 5));
        s.check_width(7, "x").unwrap(); // ranges may leave columns out
        assert!(s.check_width(4, "x").is_err());
        for bad in ["a=2:2", "a=0:2,a=2:3", "a0:2", "=0:1", "a=x:3"] {
            assert!(ChannelSpec::ranges(bad).is_err(), "{bad}");
        }
    }
}
