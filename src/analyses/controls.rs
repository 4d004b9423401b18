//! Compositional control targets: quantities computed from composition
//! alone, built from the data at hand. A probe whose R²_geom on one of them
//! is well above zero reads composition out of the residual (the residual
//! holds no *linear* composition signal by construction, so such a probe
//! fits a nonlinear function of composition): its R²_geom on real targets
//! is inflated by the same route. The conditional R² (what the residual
//! adds to composition, [`crate::probe::cv::cross_validate_conditional`])
//! should be ≈ 0 on every control for every probe; a probe over the
//! threshold there is flagged.
//!
//! | name | definition | linear in the counts? | in the fractions? |
//! |---|---|---|---|
//! | `ctrl_atoms` | number of atoms `N = Σ c_e` | yes | — |
//! | `ctrl_mass` | mass `Σ c_e m_e` (standard atomic weights, u) | yes | — |
//! | `ctrl_mean_mass` | mass per atom `Σ c_e m_e / N` | no | yes |
//! | `ctrl_mean_en` | mean Pauling electronegativity `Σ c_e χ_e / N` | no | yes |
//! | `ctrl_atoms_sq` | `N²` | no | — |
//! | `ctrl_h_fraction` | `c_H / N` (0 without an H column) | no | yes |
//! | `ctrl_random_k` (k = 1, 2, 3) | `sin(1.5 u) + u²/2`, `u` the standardised `Σ_e w_ke √c_e`, `w_ke` uniform in [−1, 1] drawn from the run's seed | no | no |
//!
//! With compositions as fractions (`composition = "fractions"`, crystals)
//! `c_e` is the fraction of element `e` and `N = 1`: the size of a cell is a
//! convention, so the controls that need atom counts (—) are skipped with
//! that reason, and the per-atom controls are linear in the fractions (the
//! projection removes them entirely: their residual R² is 0, so only the
//! random controls test a probe for reading composition back).
//!
//! A control that does not vary on the data is skipped with its reason
//! ([`Controls::skipped`]): one that is constant, or nearly so (one value
//! on at least [`NEARLY_CONSTANT`] of the rows: its R² would rest on a
//! handful of structures), or that needs a property an element lacks.

use ndarray::{Array1, Array2, ArrayView1, ArrayView2};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::error::{CpdError, Result};
use crate::io::elements::atomic_number;
use crate::report::{InflationRecord, ResultRecord};

/// Prefix of every control target's name.
pub const PREFIX: &str = "ctrl_";

/// Number of random nonlinear controls.
pub const RANDOM: usize = 3;

/// A control whose most common value covers at least this share of the
/// rows is skipped as nearly constant.
pub const NEARLY_CONSTANT: f64 = 0.95;

/// Whether a control is a linear function of the composition columns (the
/// projection removes it entirely from the residual): of the counts, or of
/// the fractions when `fractions`.
pub fn is_linear(name: &str, fractions: bool) -> bool {
    if fractions {
        matches!(name, "ctrl_mean_mass" | "ctrl_mean_en" | "ctrl_h_fraction")
    } else {
        matches!(name, "ctrl_atoms" | "ctrl_mass")
    }
}

/// The controls that need atom counts (skipped with fractions).
const NEED_COUNTS: [&str; 3] = ["ctrl_atoms", "ctrl_mass", "ctrl_atoms_sq"];

/// Whether a target is a control.
pub fn is_control(name: &str) -> bool {
    name.starts_with(PREFIX)
}

/// Default R² on a control above which a probe is flagged as inflated.
pub const DEFAULT_INFLATION_THRESHOLD: f64 = 0.1;

/// Pauling electronegativities by atomic number from H to Pu (the CRC
/// Handbook's table); `NaN` where an element has none (He, Ne, Ar).
const PAULING: [f64; 94] = [
    2.20,
    f64::NAN,
    0.98,
    1.57,
    2.04,
    2.55,
    3.04,
    3.44,
    3.98,
    f64::NAN, // H–Ne
    0.93,
    1.31,
    1.61,
    1.90,
    2.19,
    2.58,
    3.16,
    f64::NAN,
    0.82,
    1.00, // Na–Ca
    1.36,
    1.54,
    1.63,
    1.66,
    1.55,
    1.83,
    1.88,
    1.91,
    1.90,
    1.65, // Sc–Zn
    1.81,
    2.01,
    2.18,
    2.55,
    2.96,
    3.00,
    0.82,
    0.95,
    1.22,
    1.33, // Ga–Zr
    1.6,
    2.16,
    1.9,
    2.2,
    2.28,
    2.20,
    1.93,
    1.69,
    1.78,
    1.96, // Nb–Sn
    2.05,
    2.1,
    2.66,
    2.6,
    0.79,
    0.89,
    1.10,
    1.12,
    1.13,
    1.14, // Sb–Nd
    1.13,
    1.17,
    1.2,
    1.2,
    1.1,
    1.22,
    1.23,
    1.24,
    1.25,
    1.1, // Pm–Yb
    1.27,
    1.3,
    1.5,
    2.36,
    1.9,
    2.2,
    2.20,
    2.28,
    2.54,
    2.00, // Lu–Hg
    1.62,
    2.33,
    2.02,
    2.0,
    2.2,
    2.2,
    0.7,
    0.9,
    1.1,
    1.3, // Tl–Th
    1.5,
    1.38,
    1.36,
    1.28, // Pa–Pu
];

/// Pauling electronegativity of an element symbol, if it has one.
pub fn electronegativity(symbol: &str) -> Option<f64> {
    atomic_number(symbol)
        .and_then(|z| PAULING.get(z - 1).copied())
        .filter(|v| v.is_finite())
}

/// Standard atomic weights (IUPAC 2021, abridged to five significant digits
/// or the conventional value), by atomic number from H; for elements
/// without a standard weight (Tc, Pm, Po–Ac, Np, Pu) the mass number of the
/// longest-lived isotope. Up to plutonium.
const ATOMIC_WEIGHTS: [f64; 94] = [
    1.008, 4.0026, 6.94, 9.0122, 10.81, 12.011, 14.007, 15.999, 18.998, 20.180, // H–Ne
    22.990, 24.305, 26.982, 28.085, 30.974, 32.06, 35.45, 39.95, 39.098, 40.078, // Na–Ca
    44.956, 47.867, 50.942, 51.996, 54.938, 55.845, 58.933, 58.693, 63.546, 65.38, // Sc–Zn
    69.723, 72.630, 74.922, 78.971, 79.904, 83.798, 85.468, 87.62, 88.906, 91.224, // Ga–Zr
    92.906, 95.95, 98.0, 101.07, 102.91, 106.42, 107.87, 112.41, 114.82, 118.71, // Nb–Sn
    121.76, 127.60, 126.90, 131.29, 132.91, 137.33, 138.91, 140.12, 140.91, 144.24, // Sb–Nd
    145.0, 150.36, 151.96, 157.25, 158.93, 162.50, 164.93, 167.26, 168.93, 173.05, // Pm–Yb
    174.97, 178.49, 180.95, 183.84, 186.21, 190.23, 192.22, 195.08, 196.97, 200.59, // Lu–Hg
    204.38, 207.2, 208.98, 209.0, 210.0, 222.0, 223.0, 226.0, 227.0, 232.04, // Tl–Th
    231.04, 238.03, 237.0, 244.0, // Pa–Pu
];

/// Standard atomic weight of an element symbol (u), if cpd has one.
pub fn atomic_weight(symbol: &str) -> Option<f64> {
    atomic_number(symbol).and_then(|z| ATOMIC_WEIGHTS.get(z - 1).copied())
}

/// The control targets of a data set: those that vary on it, and the
/// reason each other one was skipped.
#[derive(Debug, Clone)]
pub struct Controls {
    /// Names of the kept controls, in report order.
    pub names: Vec<String>,
    /// Their values (`n × names.len()`).
    pub values: Array2<f64>,
    /// `(name, reason)` of every control skipped.
    pub skipped: Vec<(String, String)>,
}

/// Why `values` cannot be a target: constant up to rounding (`None` when
/// they vary).
pub fn constant_reason(values: ArrayView1<'_, f64>) -> Option<String> {
    let n = values.len() as f64;
    let mean = values.sum() / n;
    let sd = (values.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n).sqrt();
    (sd <= 1e-12 * mean.abs().max(1.0))
        .then(|| format!("constant ({mean} on every row): a constant target has no R²"))
}

/// Why a control cannot be probed: constant, or one value on at least
/// [`NEARLY_CONSTANT`] of the rows.
fn control_skip_reason(values: ArrayView1<'_, f64>) -> Option<String> {
    if let Some(r) = constant_reason(values) {
        return Some(r);
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let (mut best, mut run, mut value) = (0usize, 0usize, f64::NAN);
    for (i, v) in sorted.iter().enumerate() {
        run = if i > 0 && *v == sorted[i - 1] {
            run + 1
        } else {
            1
        };
        if run > best {
            (best, value) = (run, *v);
        }
    }
    let share = best as f64 / sorted.len() as f64;
    (share >= NEARLY_CONSTANT).then(|| {
        format!(
            "nearly constant ({value} on {:.1} % of the rows): its R² would rest on a few structures",
            100.0 * share
        )
    })
}

/// The control targets of a composition matrix whose columns are the
/// element symbols `columns`: atom counts, or element fractions when
/// `fractions` (see the module docs; `seed` draws the random controls'
/// weights).
pub fn control_targets(
    counts: ArrayView2<'_, f64>,
    columns: &[String],
    seed: u64,
    fractions: bool,
) -> Result<Controls> {
    let weights = columns
        .iter()
        .map(|c| {
            atomic_weight(c).ok_or_else(|| {
                CpdError::Invalid(format!(
                    "setting `controls`: no standard atomic weight for element '{c}' (cpd knows H to Pu)"
                ))
            })
        })
        .collect::<Result<Vec<f64>>>()?;
    let h = columns.iter().position(|c| c == "H");
    let n = counts.nrows();
    let atoms: Array1<f64> = if fractions {
        Array1::ones(n)
    } else {
        counts.rows().into_iter().map(|r| r.sum()).collect()
    };
    let per_atom = |v: f64, a: f64| if a > 0.0 { v / a } else { 0.0 };
    let mut candidates: Vec<(String, std::result::Result<Array1<f64>, String>)> = Vec::new();
    let mass: Array1<f64> = counts
        .rows()
        .into_iter()
        .map(|r| r.iter().zip(&weights).map(|(c, w)| c * w).sum())
        .collect();
    candidates.push(("ctrl_atoms".into(), Ok(atoms.clone())));
    candidates.push(("ctrl_mass".into(), Ok(mass.clone())));
    let mean_mass = Array1::from_shape_fn(n, |i| per_atom(mass[i], atoms[i]));
    candidates.push(("ctrl_mean_mass".into(), Ok(mean_mass)));
    let en: std::result::Result<Vec<f64>, String> = columns
        .iter()
        .map(|c| {
            electronegativity(c)
                .ok_or_else(|| format!("needs a Pauling electronegativity, which {c} lacks"))
        })
        .collect();
    candidates.push((
        "ctrl_mean_en".into(),
        en.map(|en| {
            counts
                .rows()
                .into_iter()
                .zip(&atoms)
                .map(|(r, &a)| per_atom(r.iter().zip(&en).map(|(c, x)| c * x).sum(), a))
                .collect()
        }),
    ));
    candidates.push(("ctrl_atoms_sq".into(), Ok(atoms.mapv(|a| a * a))));
    let h_fraction = Array1::from_shape_fn(n, |i| match h {
        Some(j) => per_atom(counts[(i, j)], atoms[i]),
        None => 0.0,
    });
    candidates.push(("ctrl_h_fraction".into(), Ok(h_fraction)));
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x636f_6e74_726f_6c73); // "controls"
    for k in 1..=RANDOM {
        let w: Vec<f64> = (0..columns.len())
            .map(|_| rng.random_range(-1.0..1.0))
            .collect();
        let u: Array1<f64> = counts
            .rows()
            .into_iter()
            .map(|r| r.iter().zip(&w).map(|(c, w)| w * c.max(0.0).sqrt()).sum())
            .collect();
        let mean = u.sum() / n as f64;
        let sd = (u.iter().map(|v| (v - mean) * (v - mean)).sum::<f64>() / n as f64).sqrt();
        let values = if sd > 0.0 {
            u.mapv(|v| {
                let z = (v - mean) / sd;
                (1.5 * z).sin() + 0.5 * z * z
            })
        } else {
            Array1::zeros(n)
        };
        candidates.push((format!("ctrl_random_{k}"), Ok(values)));
    }
    let mut names = Vec::new();
    let mut kept = Vec::new();
    let mut skipped = Vec::new();
    for (name, values) in candidates {
        let values = if fractions && NEED_COUNTS.contains(&name.as_str()) {
            Err("needs atom counts (setting `composition` = fractions)".to_string())
        } else {
            values
        };
        match values
            .map_err(Some)
            .and_then(|v| match control_skip_reason(v.view()) {
                Some(r) => Err(Some(r)),
                None => Ok(v),
            }) {
            Ok(v) => {
                names.push(name);
                kept.push(v);
            }
            Err(reason) => skipped.push((name, reason.expect("a reason"))),
        }
    }
    let mut values = Array2::<f64>::zeros((n, kept.len()));
    for (j, v) in kept.iter().enumerate() {
        values.column_mut(j).assign(v);
    }
    Ok(Controls {
        names,
        values,
        skipped,
    })
}

/// The inflation verdict of every probe on every control's residual
/// record: flagged when its conditional R² exceeds `threshold`; its
/// R²_geom beside it (over the threshold, R²_geom misleads for that probe).
pub fn inflation(
    results: &[ResultRecord],
    threshold: f64,
    fractions: bool,
) -> Vec<InflationRecord> {
    results
        .iter()
        .filter(|r| r.representation == "geom" && is_control(&r.target))
        .map(|r| InflationRecord {
            model: r.model.clone(),
            layer: r.layer.clone(),
            channels: r.channels.clone(),
            probe: r.probe.clone(),
            control: r.target.clone(),
            linear: is_linear(&r.target, fractions),
            r2_geom: r.r2_mean,
            r2_cond: r.r2_cond,
            threshold,
            inflated: r.r2_cond.is_some_and(|v| v > threshold),
            geom_inflated: r.r2_mean.is_some_and(|v| v > threshold),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn column<'a>(c: &'a Controls, name: &str) -> ArrayView1<'a, f64> {
        let j = c.names.iter().position(|n| n == name).expect(name);
        c.values.column(j)
    }

    #[test]
    fn controls_of_water_methane_and_hydrogen_fluoride() {
        let cols: Vec<String> = ["H", "C", "O", "F"].iter().map(|s| s.to_string()).collect();
        let c = array![[2., 0., 1., 0.], [4., 1., 0., 0.], [1., 0., 0., 1.]];
        let t = control_targets(c.view(), &cols, 0, false).unwrap();
        assert!(t.skipped.is_empty(), "{:?}", t.skipped);
        assert_eq!(t.names.len(), 6 + RANDOM);
        assert_eq!(column(&t, "ctrl_atoms").to_vec(), vec![3.0, 5.0, 2.0]);
        let water = 2.0 * 1.008 + 15.999;
        assert_eq!(column(&t, "ctrl_mass")[0], water);
        assert!((column(&t, "ctrl_mean_mass")[0] - water / 3.0).abs() < 1e-12);
        assert!((column(&t, "ctrl_mean_en")[0] - (2.0 * 2.20 + 3.44) / 3.0).abs() < 1e-12);
        assert!((column(&t, "ctrl_mean_en")[2] - (2.20 + 3.98) / 2.0).abs() < 1e-12);
        assert_eq!(column(&t, "ctrl_atoms_sq").to_vec(), vec![9.0, 25.0, 4.0]);
        assert_eq!(
            column(&t, "ctrl_h_fraction").to_vec(),
            vec![2.0 / 3.0, 0.8, 0.5]
        );
        // The random controls: seeded, standardised u, sin(1.5u) + u²/2.
        let again = control_targets(c.view(), &cols, 0, false).unwrap();
        let other = control_targets(c.view(), &cols, 1, false).unwrap();
        let r1 = column(&t, "ctrl_random_1");
        assert_eq!(r1, column(&again, "ctrl_random_1"));
        assert_ne!(r1, column(&other, "ctrl_random_1"));
        assert_ne!(r1, column(&t, "ctrl_random_2"));
        assert!(r1.iter().all(|v| (-1.0..=1.0 + 0.5 * 3.0).contains(v)));
        assert_eq!(atomic_weight("Cl"), Some(35.45));
        assert_eq!(atomic_weight("U"), Some(238.03));
        assert_eq!(atomic_weight("Pu"), Some(244.0));
        assert_eq!(electronegativity("Pu"), Some(1.28));
        assert_eq!(atomic_weight("Am"), None);
        assert_eq!(electronegativity("F"), Some(3.98));
        assert_eq!(electronegativity("Ar"), None);
        let e = control_targets(
            c.view(),
            &["H".into(), "C".into(), "O".into(), "Am".into()],
            0,
            false,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("'Am'"), "{e}");
        assert!(is_linear("ctrl_mass", false) && !is_linear("ctrl_atoms_sq", false));
    }

    #[test]
    fn with_fractions_the_controls_needing_counts_are_skipped_and_the_per_atom_ones_are_linear() {
        let cols: Vec<String> = ["H", "C", "O", "F"].iter().map(|s| s.to_string()).collect();
        // water, methane, hydrogen fluoride and hydrogen peroxide as fractions
        let counts = array![
            [2., 0., 1., 0.],
            [4., 1., 0., 0.],
            [1., 0., 0., 1.],
            [2., 0., 2., 0.]
        ];
        let f = &counts
            / &counts
                .sum_axis(ndarray::Axis(1))
                .insert_axis(ndarray::Axis(1));
        let t = control_targets(f.view(), &cols, 0, true).unwrap();
        let skipped: Vec<&str> = t.skipped.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(skipped, ["ctrl_atoms", "ctrl_mass", "ctrl_atoms_sq"]);
        assert!(t
            .skipped
            .iter()
            .all(|(_, r)| r.contains("needs atom counts")));
        let water = (2.0 * 1.008 + 15.999) / 3.0;
        assert!((column(&t, "ctrl_mean_mass")[0] - water).abs() < 1e-12);
        // H2O and H2O2 differ in fractions, and so in mean mass
        assert!((column(&t, "ctrl_mean_mass")[3] - (1.008 + 15.999) / 2.0).abs() < 1e-12);
        assert!((column(&t, "ctrl_h_fraction")[1] - 0.8).abs() < 1e-12);
        assert!(is_linear("ctrl_mean_mass", true) && !is_linear("ctrl_mean_mass", false));
        assert!(!is_linear("ctrl_random_1", true));
    }

    #[test]
    fn controls_that_do_not_vary_on_the_data_are_skipped_with_a_reason() {
        // Crystals of four atoms each, no hydrogen, one structure with Ar:
        // the atom count, its square and the H fraction are constant, Ar
        // has no electronegativity.
        let cols: Vec<String> = ["Na", "Cl", "Ar"].iter().map(|s| s.to_string()).collect();
        let c = array![[2., 2., 0.], [1., 3., 0.], [3., 1., 0.], [0., 0., 4.]];
        let t = control_targets(c.view(), &cols, 0, false).unwrap();
        let skipped: Vec<&str> = t.skipped.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            skipped,
            [
                "ctrl_atoms",
                "ctrl_mean_en",
                "ctrl_atoms_sq",
                "ctrl_h_fraction"
            ]
        );
        assert!(
            t.skipped[0].1.starts_with("constant (4 on every row)"),
            "{:?}",
            t.skipped
        );
        assert!(t.skipped[1].1.contains("Ar lacks"), "{:?}", t.skipped);
        assert_eq!(t.values.ncols(), t.names.len());
        assert!(t.names.contains(&"ctrl_mass".to_string()));
        // One value on 95 % of the rows: nearly constant.
        let mut rows = vec![[1., 1., 0.]; 19];
        rows.push([2., 1., 0.]);
        let c = ndarray::Array2::from(rows);
        let t = control_targets(c.view(), &cols, 0, false).unwrap();
        let atoms = t.skipped.iter().find(|(n, _)| n == "ctrl_atoms").unwrap();
        assert!(
            atoms
                .1
                .starts_with("nearly constant (2 on 95.0 % of the rows)"),
            "{atoms:?}"
        );
    }

    #[test]
    fn mass_control_reproduces_the_bundled_qm9_masses() {
        // data/targets.csv's mass_amu was computed by scripts/make_qm9.py
        // with its own weight table and rounded to 1e-3.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data");
        let comp = crate::io::table::read_table(&dir.join("compositions.csv")).unwrap();
        let targ = crate::io::table::read_table(&dir.join("targets.csv")).unwrap();
        assert_eq!(comp.ids, targ.ids);
        let t = control_targets(comp.values.view(), &comp.columns, 0, false).unwrap();
        let m = targ.columns.iter().position(|c| c == "mass_amu").unwrap();
        let mass = column(&t, "ctrl_mass");
        let worst = (0..mass.len())
            .map(|i| (mass[i] - targ.values[(i, m)]).abs())
            .fold(0.0, f64::max);
        assert!(worst <= 5e-4 + 1e-9, "worst {worst}");
    }
}
