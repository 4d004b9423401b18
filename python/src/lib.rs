//! `cpd._cpd`: the extension module under the `cpd` Python package. A thin
//! layer over the library crate: arguments are converted (NumPy arrays are
//! shared, not copied), one library call runs with the GIL released, and the
//! result is converted back. Names, defaults, DataFrame handling and
//! docstrings live in `cpd/__init__.py`.

use std::path::PathBuf;
use std::sync::Arc;

use ndarray::Array2;
use numpy::{
    dtype, IntoPyArray, PyArray2, PyArrayDescrMethods, PyReadonlyArray2, PyUntypedArray,
    PyUntypedArrayMethods,
};
use pyo3::exceptions::{PyFileNotFoundError, PyOSError, PyValueError};
use pyo3::prelude::*;

use cpd::analyses::controls::DEFAULT_INFLATION_THRESHOLD;
use cpd::commands::analyze::{
    analyze_in_memory, Analysis, AnalyzeConfig, CompositionSource, EmbeddingSpec, FoldSpec,
    InMemory, LearningCurve, NoProgress,
};
use cpd::commands::check::{check as check_reports, LoadedReport, Metric};
use cpd::commands::manifest::{channel_spec, DEFAULT_CURVE_REPEATS};
use cpd::error::CpdError;
use cpd::flow::dataset::CompositionMode;
use cpd::flow::projection::{residual_zero_tol, Projection};
use cpd::flow::rows::{Rows, Stored};
use cpd::io::embeddings::{EmbeddingFile, Layer, Shared, Values};
use cpd::io::peratom::Pool;
use cpd::io::table::Table;
use cpd::probe::gbt::GbtParams;
use cpd::probe::mlp::MlpParams;
use cpd::probe::ridge::RidgeParams;
use cpd::flow::folds::GroupFolds;
use cpd::probe::scale::Scale;
use cpd::probe::ProbeKind;
use cpd::report::markdown::{run_line, text_table};
use cpd::report::write::{predictions_csv, write_outputs, PREDICTIONS_CSV};

/// The library's error as the Python exception the CLI's message belongs
/// to: a missing file is `FileNotFoundError`, another I/O failure `OSError`,
/// everything else (bad input, bad settings) `ValueError`.
fn py_err(e: CpdError) -> PyErr {
    match &e {
        CpdError::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            PyFileNotFoundError::new_err(e.to_string())
        }
        CpdError::Io { .. } => PyOSError::new_err(e.to_string()),
        _ => PyValueError::new_err(e.to_string()),
    }
}

fn invalid(message: String) -> PyErr {
    py_err(CpdError::Invalid(message))
}

/// Keeps NumPy's read-only borrow of a shared array while the library reads it.
enum Guard<'py> {
    F32(#[allow(dead_code)] PyReadonlyArray2<'py, f32>),
    F64(#[allow(dead_code)] PyReadonlyArray2<'py, f64>),
}

/// A float32/float64 2-D array shared with the library without a copy (any
/// layout); the returned guard must outlive the library call.
fn shared<'py>(array: &Bound<'py, PyAny>, what: &str) -> PyResult<(Values, Guard<'py>)> {
    let py = array.py();
    let untyped = array.cast::<PyUntypedArray>().map_err(|_| {
        PyValueError::new_err(format!(
            "{what}: expected a NumPy array, got {}",
            array
                .get_type()
                .name()
                .map(|n| n.to_string())
                .unwrap_or_default()
        ))
    })?;
    if untyped.ndim() != 2 {
        return Err(PyValueError::new_err(format!(
            "{what}: expected a 2-D array (rows × features), found {} dimension(s)",
            untyped.ndim()
        )));
    }
    let owner: Arc<dyn std::any::Any + Send + Sync> = Arc::new(array.clone().unbind());
    let descr = untyped.dtype();
    if descr.is_equiv_to(&dtype::<f32>(py)) {
        let ro: PyReadonlyArray2<'py, f32> = array.extract()?;
        // SAFETY: `owner` holds the array object (so its buffer) alive;
        // the read-only borrow in the guard keeps Rust writers away while
        // the library runs.
        let v = unsafe { Shared::new(ro.as_array(), owner) };
        Ok((Values::SharedF32(v), Guard::F32(ro)))
    } else if descr.is_equiv_to(&dtype::<f64>(py)) {
        let ro: PyReadonlyArray2<'py, f64> = array.extract()?;
        // SAFETY: as above.
        let v = unsafe { Shared::new(ro.as_array(), owner) };
        Ok((Values::SharedF64(v), Guard::F64(ro)))
    } else {
        Err(PyValueError::new_err(format!(
            "{what}: unsupported dtype {}, expected float32 or float64",
            descr.str().map(|s| s.to_string()).unwrap_or_default()
        )))
    }
}

/// A table (compositions, targets) from ids, names and float64 values.
fn table(
    label: &str,
    ids: Vec<String>,
    columns: Vec<String>,
    values: &Bound<'_, PyAny>,
) -> PyResult<Table> {
    let (v, _guard) = shared(values, label)?;
    let values = match v {
        Values::SharedF64(s) => s.view().to_owned(),
        other => other.to_f64(),
    };
    Ok(Table {
        path: PathBuf::from(label),
        ids: ids.iter().collect(),
        columns,
        values,
    })
}

/// Every setting of `cpd analyze`, as `cpd/__init__.py` passes them (the
/// CLI's names with `_` for `-`; `None` where the CLI flag is absent).
#[derive(FromPyObject)]
#[pyo3(from_item_all)]
struct Settings {
    target: Vec<String>,
    probes: Vec<String>,
    folds: Option<usize>,
    seed: Option<u64>,
    folds_file: Option<PathBuf>,
    alpha: Option<f64>,
    alphas: Option<Vec<f64>>,
    gbt_rounds: usize,
    gbt_lr: f64,
    gbt_leaves: usize,
    gbt_depth: Option<usize>,
    gbt_min_leaf: usize,
    gbt_l2: f64,
    gbt_bins: usize,
    gbt_validation: Option<f64>,
    gbt_patience: Option<usize>,
    mlp_hidden: usize,
    mlp_alpha: f64,
    mlp_lr: f64,
    mlp_batch: usize,
    mlp_max_epochs: usize,
    mlp_patience: usize,
    scale: String,
    predictions: bool,
    similarity: bool,
    max_rows: Option<usize>,
    group_folds: Option<String>,
    permutations: usize,
    bootstrap: usize,
    residualize_target: bool,
    controls: bool,
    inflation_threshold: f64,
    irreps: Option<String>,
    channels: Option<String>,
    invariants: Option<String>,
    channel_layers: Option<Vec<String>>,
    learning_curve: Option<Vec<usize>>,
    curve_repeats: Option<usize>,
    composition: String,
}

/// The run's configuration, as `cpd analyze` builds it from the same flags
/// (`src/cli/config.rs`: `config_from_flags` then `apply_flags`).
fn config(models: &[String], s: Settings) -> PyResult<AnalyzeConfig> {
    let probes = s
        .probes
        .iter()
        .map(|p| ProbeKind::parse(p))
        .collect::<Result<Vec<_>, _>>()
        .map_err(py_err)?;
    let folds = match (&s.folds_file, s.folds, s.seed) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            return Err(invalid("folds_file conflicts with folds and seed".into()))
        }
        (Some(p), None, None) => FoldSpec::File(p.clone()),
        (None, k, seed) => FoldSpec::Shuffled {
            k: k.unwrap_or(5),
            seed: seed.unwrap_or(0),
        },
    };
    let ridge = match (s.alpha, &s.alphas) {
        (Some(_), Some(_)) => return Err(invalid("give alpha or alphas, not both".into())),
        (Some(a), None) => RidgeParams::fixed(a),
        (None, Some(grid)) => RidgeParams::grid(grid.clone()),
        (None, None) => RidgeParams::default(),
    };
    let seed = s.seed.unwrap_or(0);
    if s.gbt_patience.is_some() && s.gbt_validation.is_none() {
        return Err(invalid("gbt_patience needs gbt_validation".into()));
    }
    let gbt = GbtParams {
        rounds: s.gbt_rounds,
        learning_rate: s.gbt_lr,
        max_leaves: s.gbt_leaves,
        max_depth: s.gbt_depth,
        min_leaf: s.gbt_min_leaf,
        l2: s.gbt_l2,
        max_bins: s.gbt_bins,
        validation: s.gbt_validation,
        patience: s.gbt_patience.unwrap_or(GbtParams::default().patience),
        seed,
    };
    let mlp = MlpParams {
        hidden: s.mlp_hidden,
        alpha: s.mlp_alpha,
        learning_rate: s.mlp_lr,
        batch: s.mlp_batch,
        max_epochs: s.mlp_max_epochs,
        patience: s.mlp_patience,
        seed,
        ..MlpParams::default()
    };
    let scale = Scale::parse(&s.scale).map_err(|e| invalid(e.to_string()))?;
    let composition_mode = match s.composition.as_str() {
        "counts" => CompositionMode::Counts,
        "fractions" => CompositionMode::Fractions,
        other => {
            return Err(invalid(format!(
                "composition '{other}': expected counts or fractions"
            )))
        }
    };
    let learning_curve = match (s.learning_curve, s.curve_repeats) {
        (Some(sizes), r) => Some(LearningCurve {
            sizes,
            repeats: r.unwrap_or(DEFAULT_CURVE_REPEATS),
        }),
        (None, Some(_)) => return Err(invalid("curve_repeats needs learning_curve".into())),
        (None, None) => None,
    };
    let spec = if s.irreps.is_some() || s.channels.is_some() {
        if s.irreps.is_some() && s.channels.is_some() {
            return Err(invalid("give irreps or channels, not both".into()));
        }
        channel_spec(
            s.irreps.as_deref(),
            s.channels.as_deref(),
            s.invariants.as_deref(),
        )
        .map_err(py_err)?
    } else if s.invariants.is_some() || s.channel_layers.is_some() {
        return Err(invalid(
            "invariants and channel_layers need irreps or channels".into(),
        ));
    } else {
        None
    };
    let has_channels = spec.is_some();
    let embeddings = models
        .iter()
        .map(|m| EmbeddingSpec {
            model: m.clone(),
            paths: vec![memory_label(m)],
            layers: None,
            channels: spec.clone(),
            channel_layers: if has_channels {
                s.channel_layers.clone()
            } else {
                None
            },
        })
        .collect();
    Ok(AnalyzeConfig {
        embeddings,
        composition: CompositionSource::Table(PathBuf::from(COMPOSITIONS)),
        composition_mode,
        targets: PathBuf::from(TARGETS),
        target_names: s.target,
        probes,
        folds,
        ridge,
        gbt,
        mlp,
        residualize_target: s.residualize_target,
        controls: s.controls,
        inflation_threshold: s.inflation_threshold,
        learning_curve,
        scale,
        predictions: s.predictions,
        pool: Pool::Mean,
        similarity: s.similarity,
        max_rows: s.max_rows,
        group_folds: s
            .group_folds
            .as_deref()
            .map(GroupFolds::parse)
            .transpose()
            .map_err(py_err)?,
        permutations: s.permutations,
        bootstrap: s.bootstrap,
        conditional: true,
    })
}

const COMPOSITIONS: &str = "compositions";
const TARGETS: &str = "targets";

/// How an in-memory model is named in messages and the report's inputs.
fn memory_label(model: &str) -> PathBuf {
    PathBuf::from(format!("embeddings '{model}'"))
}

/// Run `f` with the GIL released, on a pool of `threads` workers (`None`:
/// rayon's global pool, RAYON_NUM_THREADS or every core).
fn compute<T: Send>(
    py: Python<'_>,
    threads: Option<usize>,
    f: impl FnOnce() -> T + Send,
) -> PyResult<T> {
    py.detach(|| match threads {
        None => Ok(f()),
        Some(0) => Err("threads must be at least 1".to_string()),
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .map(|pool| pool.install(f))
            .map_err(|e| format!("setting up the thread pool: {e}")),
    })
    .map_err(invalid)
}

/// The outcome of `analyze`: the library's [`Analysis`], kept whole so that
/// `write` produces the CLI's files with the library's writer.
#[pyclass(module = "cpd._cpd", frozen)]
struct NativeReport {
    analysis: Analysis,
    predictions: bool,
}

#[pymethods]
impl NativeReport {
    /// report.json, as the CLI writes it.
    fn json(&self) -> PyResult<String> {
        serde_json::to_string_pretty(&self.analysis.report)
            .map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// The table `cpd analyze` prints, with its first line.
    fn table(&self) -> String {
        let r = &self.analysis.report;
        format!(
            "{}\n{}",
            run_line(r, self.analysis.ids.len()),
            text_table(r)
        )
    }

    /// Row ids in report order.
    fn ids(&self) -> Vec<String> {
        self.analysis.ids.to_vec()
    }

    /// Fold of each row.
    fn folds(&self) -> Vec<usize> {
        self.analysis.folds.assignment.clone()
    }

    /// Out-of-fold predictions, one row per record (with `predictions=True`).
    fn predictions<'py>(&self, py: Python<'py>) -> Option<Bound<'py, PyArray2<f64>>> {
        if !self.predictions {
            return None;
        }
        let p = &self.analysis.predictions;
        let n = self.analysis.ids.len();
        let a = Array2::from_shape_fn((p.len(), n), |(r, i)| p[r][i]);
        Some(a.into_pyarray(py))
    }

    /// Write the CLI's files into `dir`; returns their paths.
    fn write(&self, py: Python<'_>, dir: PathBuf) -> PyResult<Vec<PathBuf>> {
        let a = &self.analysis;
        let predictions = self.predictions;
        py.detach(|| {
            let extra = if predictions {
                vec![(
                    PREDICTIONS_CSV.to_string(),
                    predictions_csv(
                        &a.report,
                        &a.ids,
                        &a.folds.assignment,
                        a.targets.view(),
                        &a.predictions,
                    )?,
                )]
            } else {
                Vec::new()
            };
            write_outputs(&dir, &a.report, &a.ids, &a.folds.assignment, extra)
        })
        .map_err(py_err)
    }
}

/// One model's layers: (layer name, array).
type ModelArrays<'py> = (String, Vec<(String, Bound<'py, PyAny>)>);

/// `cpd.analyze` after `cpd/__init__.py` has normalised its arguments.
#[pyfunction]
#[pyo3(signature = (embeddings, comp_ids, comp_columns, comp_values, target_ids, target_columns, target_values, settings, threads=None))]
#[allow(clippy::too_many_arguments)]
fn analyze<'py>(
    py: Python<'py>,
    embeddings: Vec<ModelArrays<'py>>,
    comp_ids: Vec<String>,
    comp_columns: Vec<String>,
    comp_values: Bound<'py, PyAny>,
    target_ids: Vec<String>,
    target_columns: Vec<String>,
    target_values: Bound<'py, PyAny>,
    settings: Settings,
    threads: Option<usize>,
) -> PyResult<NativeReport> {
    let models: Vec<String> = embeddings.iter().map(|(m, _)| m.clone()).collect();
    let config = config(&models, settings)?;
    let mut guards = Vec::new();
    let mut files = Vec::with_capacity(embeddings.len());
    for (model, layers) in &embeddings {
        let mut out = Vec::with_capacity(layers.len());
        for (name, array) in layers {
            let (data, guard) = shared(array, &format!("embeddings '{model}', layer '{name}'"))?;
            guards.push(guard);
            out.push(Layer {
                name: name.clone(),
                order: data.layout(),
                data,
                irreps: None,
            });
        }
        files.push(EmbeddingFile {
            path: memory_label(model),
            ids: None,
            layers: out,
            atoms: None,
        });
    }
    let data = InMemory {
        compositions: table(COMPOSITIONS, comp_ids, comp_columns, &comp_values)?,
        targets: table(TARGETS, target_ids, target_columns, &target_values)?,
        embeddings: files,
    };
    let predictions = config.predictions;
    let analysis = compute(py, threads, || {
        analyze_in_memory(&config, &data, &NoProgress)
    })?
    .map_err(py_err)?;
    drop(data);
    drop(guards);
    Ok(NativeReport {
        analysis,
        predictions,
    })
}

/// `cpd.project`: `H − Q QᵀH` with `Q` from the pivoted QR of `[1 | C]`, in
/// float64, and the projection's rank and dropped columns.
#[pyfunction]
#[pyo3(signature = (h, columns, compositions, threads=None))]
fn project<'py>(
    py: Python<'py>,
    h: Bound<'py, PyAny>,
    columns: Vec<String>,
    compositions: Bound<'py, PyAny>,
    threads: Option<usize>,
) -> PyResult<(Bound<'py, PyArray2<f64>>, usize, Vec<String>)> {
    let (data, guard) = shared(&h, "H")?;
    let c = table(COMPOSITIONS, Vec::new(), columns.clone(), &compositions)?;
    if c.values.ncols() != columns.len() {
        return Err(PyValueError::new_err(format!(
            "compositions: {} columns of values for {} names",
            c.values.ncols(),
            columns.len()
        )));
    }
    if c.values.nrows() != data.nrows() {
        return Err(PyValueError::new_err(format!(
            "H has {} rows but compositions have {}",
            data.nrows(),
            c.values.nrows()
        )));
    }
    if let Some(((r, col), v)) = c.values.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(PyValueError::new_err(format!(
            "compositions: row {r}, column {col} (0-based): {v} is not finite (NaN or Inf)"
        )));
    }
    if let Some(((r, col), v)) = data_find_nonfinite(&data) {
        return Err(PyValueError::new_err(format!(
            "H: non-finite value {v} at row {r}, column {col} (0-based)"
        )));
    }
    let (geom, rank, dropped) = compute(py, threads, || {
        let p = Projection::new(c.values.view(), &columns);
        let rows = Stored(&data);
        let geom = p
            .residual_rows(&rows, residual_zero_tol(data.dtype()))
            .materialize();
        (geom, p.rank, p.dropped.clone())
    })?;
    drop(guard);
    Ok((geom.into_pyarray(py), rank, dropped))
}

fn data_find_nonfinite(v: &Values) -> Option<((usize, usize), f64)> {
    let mut row = ndarray::Array1::<f64>::zeros(v.ncols());
    for i in 0..v.nrows() {
        v.row_into(i, row.view_mut());
        if let Some(j) = row.iter().position(|x| !x.is_finite()) {
            return Some(((i, j), row[j]));
        }
    }
    None
}

/// A report for `check`: a report.json file, or its text and a label.
#[derive(FromPyObject)]
enum ReportSource {
    Path(PathBuf),
    Text(String, String),
}

impl ReportSource {
    fn load(self) -> PyResult<LoadedReport> {
        match self {
            ReportSource::Path(p) => LoadedReport::load(&p).map_err(py_err),
            ReportSource::Text(text, label) => {
                LoadedReport::parse(&text, &label).map_err(PyValueError::new_err)
            }
        }
    }
}

/// `cpd.check`: compare two reports; returns (passed, rows, settings that
/// differ, unstable records).
#[pyfunction]
#[pyo3(signature = (baseline, report, tol, metric))]
#[allow(clippy::type_complexity)]
fn check(
    baseline: ReportSource,
    report: ReportSource,
    tol: f64,
    metric: &str,
) -> PyResult<(
    bool,
    Vec<(String, String, Option<f64>, Option<f64>, f64)>,
    Vec<String>,
    Vec<(String, String)>,
)> {
    let metric = Metric::parse(metric).map_err(py_err)?;
    let b = baseline.load()?;
    let n = report.load()?;
    let o = check_reports(&b, &n, metric, tol).map_err(py_err)?;
    Ok((
        o.passed(),
        o.rows
            .iter()
            .map(|r| {
                (
                    r.key.clone(),
                    r.status.label().to_lowercase(),
                    r.baseline,
                    r.new,
                    r.tol,
                )
            })
            .collect(),
        o.settings_differ.clone(),
        o.unstable
            .iter()
            .map(|(k, w)| (k.clone(), w.to_string()))
            .collect(),
    ))
}

/// The library's defaults of every setting with one, for the tests to hold
/// `cpd/__init__.py`'s signature to.
#[pyfunction]
fn defaults(py: Python<'_>) -> PyResult<Bound<'_, pyo3::types::PyDict>> {
    let d = pyo3::types::PyDict::new(py);
    let g = GbtParams::default();
    let m = MlpParams::default();
    d.set_item("alphas", cpd::probe::ridge::default_alphas())?;
    d.set_item("gbt_rounds", g.rounds)?;
    d.set_item("gbt_lr", g.learning_rate)?;
    d.set_item("gbt_leaves", g.max_leaves)?;
    d.set_item("gbt_depth", g.max_depth)?;
    d.set_item("gbt_min_leaf", g.min_leaf)?;
    d.set_item("gbt_l2", g.l2)?;
    d.set_item("gbt_bins", g.max_bins)?;
    d.set_item("gbt_validation", g.validation)?;
    d.set_item("gbt_patience", g.patience)?;
    d.set_item("mlp_hidden", m.hidden)?;
    d.set_item("mlp_alpha", m.alpha)?;
    d.set_item("mlp_lr", m.learning_rate)?;
    d.set_item("mlp_batch", m.batch)?;
    d.set_item("mlp_max_epochs", m.max_epochs)?;
    d.set_item("mlp_patience", m.patience)?;
    d.set_item("inflation_threshold", DEFAULT_INFLATION_THRESHOLD)?;
    d.set_item("curve_repeats", DEFAULT_CURVE_REPEATS)?;
    d.set_item("version", env!("CARGO_PKG_VERSION"))?;
    Ok(d)
}

#[pymodule]
fn _cpd(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeReport>()?;
    m.add_function(wrap_pyfunction!(analyze, m)?)?;
    m.add_function(wrap_pyfunction!(project, m)?)?;
    m.add_function(wrap_pyfunction!(check, m)?)?;
    m.add_function(wrap_pyfunction!(defaults, m)?)?;
    Ok(())
}
