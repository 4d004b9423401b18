//! Compositional control targets: quantities computed from composition
//! alone. A probe that scores R²_geom well above zero on one of them reads
//! composition out of the residual — the residual holds no *linear*
//! composition signal by construction, so such a probe is fitting a
//! nonlinear function of composition and its R²_geom on real targets is
//! inflated by the same route.
//!
//! | name | definition | linear in the counts? |
//! |---|---|---|
//! | `ctrl_atoms` | number of atoms `Σ c_e` | yes |
//! | `ctrl_mass` | molecular mass `Σ c_e m_e` (standard atomic weights, u) | yes |
//! | `ctrl_atoms_sq` | `(Σ c_e)²` | no |
//! | `ctrl_h_fraction` | `c_H / Σ c_e` (0 without an H column) | no |

use ndarray::{Array2, ArrayView2};

use crate::error::{CpdError, Result};
use crate::io::elements::atomic_number;
use crate::report::{InflationRecord, ResultRecord};

/// Names of the control targets, in report order.
pub const CONTROLS: [&str; 4] = [
    "ctrl_atoms",
    "ctrl_mass",
    "ctrl_atoms_sq",
    "ctrl_h_fraction",
];

/// Whether a control is a linear function of the counts (the projection
/// removes it entirely from the residual).
pub fn is_linear(name: &str) -> bool {
    matches!(name, "ctrl_atoms" | "ctrl_mass")
}

/// Default R²_geom above which a probe is flagged as inflated.
pub const DEFAULT_INFLATION_THRESHOLD: f64 = 0.1;

/// Standard atomic weights (IUPAC 2021, abridged to five significant digits
/// or the conventional value), by atomic number from H; for elements
/// without a standard weight (Tc, Pm, Po–Ac) the mass number of the
/// longest-lived isotope. Up to uranium.
const ATOMIC_WEIGHTS: [f64; 92] = [
    1.008, 4.0026, 6.94, 9.0122, 10.81, 12.011, 14.007, 15.999, 18.998, 20.180, // H–Ne
    22.990, 24.305, 26.982, 28.085, 30.974, 32.06, 35.45, 39.95, 39.098, 40.078, // Na–Ca
    44.956, 47.867, 50.942, 51.996, 54.938, 55.845, 58.933, 58.693, 63.546, 65.38, // Sc–Zn
    69.723, 72.630, 74.922, 78.971, 79.904, 83.798, 85.468, 87.62, 88.906, 91.224, // Ga–Zr
    92.906, 95.95, 98.0, 101.07, 102.91, 106.42, 107.87, 112.41, 114.82, 118.71, // Nb–Sn
    121.76, 127.60, 126.90, 131.29, 132.91, 137.33, 138.91, 140.12, 140.91, 144.24, // Sb–Nd
    145.0, 150.36, 151.96, 157.25, 158.93, 162.50, 164.93, 167.26, 168.93, 173.05, // Pm–Yb
    174.97, 178.49, 180.95, 183.84, 186.21, 190.23, 192.22, 195.08, 196.97, 200.59, // Lu–Hg
    204.38, 207.2, 208.98, 209.0, 210.0, 222.0, 223.0, 226.0, 227.0, 232.04, // Tl–Th
    231.04, 238.03, // Pa, U
];

/// Standard atomic weight of an element symbol (u), if cpd has one.
pub fn atomic_weight(symbol: &str) -> Option<f64> {
    atomic_number(symbol).and_then(|z| ATOMIC_WEIGHTS.get(z - 1).copied())
}

/// The control targets (`n × 4`, columns as [`CONTROLS`]) of a count matrix
/// whose columns are the element symbols `columns`.
pub fn control_targets(counts: ArrayView2<'_, f64>, columns: &[String]) -> Result<Array2<f64>> {
    let weights = columns
        .iter()
        .map(|c| {
            atomic_weight(c).ok_or_else(|| {
                CpdError::Invalid(format!(
                    "--controls: no standard atomic weight for element '{c}' (cpd knows H to U)"
                ))
            })
        })
        .collect::<Result<Vec<f64>>>()?;
    let h = columns.iter().position(|c| c == "H");
    let n = counts.nrows();
    let mut out = Array2::<f64>::zeros((n, CONTROLS.len()));
    for (i, row) in counts.rows().into_iter().enumerate() {
        let atoms: f64 = row.sum();
        let mass: f64 = row.iter().zip(&weights).map(|(c, w)| c * w).sum();
        out[(i, 0)] = atoms;
        out[(i, 1)] = mass;
        out[(i, 2)] = atoms * atoms;
        out[(i, 3)] = match h {
            Some(j) if atoms > 0.0 => row[j] / atoms,
            _ => 0.0,
        };
    }
    Ok(out)
}

/// The inflation verdict of every probe on every control's residual record.
pub fn inflation(results: &[ResultRecord], threshold: f64) -> Vec<InflationRecord> {
    results
        .iter()
        .filter(|r| r.representation == "geom" && CONTROLS.contains(&r.target.as_str()))
        .map(|r| InflationRecord {
            model: r.model.clone(),
            layer: r.layer.clone(),
            channels: r.channels.clone(),
            probe: r.probe.clone(),
            control: r.target.clone(),
            linear: is_linear(&r.target),
            r2_geom: r.r2_mean,
            threshold,
            inflated: r.r2_mean.is_some_and(|v| v > threshold),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn controls_of_water_methane_and_hydrogen_fluoride() {
        let cols: Vec<String> = ["H", "C", "O", "F"].iter().map(|s| s.to_string()).collect();
        let c = array![[2., 0., 1., 0.], [4., 1., 0., 0.], [1., 0., 0., 1.]];
        let t = control_targets(c.view(), &cols).unwrap();
        assert_eq!(
            t.row(0).to_vec(),
            vec![3.0, 2.0 * 1.008 + 15.999, 9.0, 2.0 / 3.0]
        );
        assert_eq!(
            t.row(1).to_vec(),
            vec![5.0, 4.0 * 1.008 + 12.011, 25.0, 0.8]
        );
        assert!((t[(2, 1)] - 20.006).abs() < 1e-12);
        assert_eq!(atomic_weight("Cl"), Some(35.45));
        assert_eq!(atomic_weight("U"), Some(238.03));
        assert_eq!(atomic_weight("Np"), None);
        let e = control_targets(c.view(), &["H".into(), "C".into(), "O".into(), "Np".into()])
            .unwrap_err()
            .to_string();
        assert!(e.contains("'Np'"), "{e}");
        assert!(is_linear("ctrl_mass") && !is_linear("ctrl_atoms_sq"));
    }

    #[test]
    fn mass_control_reproduces_the_bundled_qm9_masses() {
        // data/targets.csv's mass_amu was computed by scripts/make_qm9.py
        // with its own weight table and rounded to 1e-3.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
        let comp = crate::io::table::read_table(&dir.join("compositions.csv")).unwrap();
        let targ = crate::io::table::read_table(&dir.join("targets.csv")).unwrap();
        assert_eq!(comp.ids, targ.ids);
        let t = control_targets(comp.values.view(), &comp.columns).unwrap();
        let m = targ.columns.iter().position(|c| c == "mass_amu").unwrap();
        let worst = (0..t.nrows())
            .map(|i| (t[(i, 1)] - targ.values[(i, m)]).abs())
            .fold(0.0, f64::max);
        assert!(worst <= 5e-4 + 1e-9, "worst {worst}");
    }
}
