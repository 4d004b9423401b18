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

use cpd::error::CpdError;
use cpd::flow::projection::{residual_zero_tol, Projection};
use cpd::flow::rows::{Rows, Stored};
use cpd::io::embeddings::{EmbeddingFile, Layer, Shared, Values};
use cpd::io::table::Table;
use cpd::report::compare::{check as check_reports, LoadedReport, Metric};
use cpd::report::figures::figures;
use cpd::report::html::summary_html;
use cpd::report::markdown::{run_line, text_table};
use cpd::report::write::{predictions_csv, write_outputs, PREDICTIONS_CSV};
use cpd::run::{
    analyze_in_memory, residual_in_memory, Analysis, AnalyzeConfig, CompositionSource,
    EmbeddingSpec, InMemory, NoProgress,
};
use cpd::settings::{Given, Inputs};

/// The library's error as the Python exception the CLI's message belongs
/// to: a missing file is `FileNotFoundError`, another I/O failure `OSError`,
/// everything else (bad input, bad settings) `ValueError`.
fn py_err(e: CpdError) -> PyErr {
    match &e {
        CpdError::Io { error, .. } if error.kind() == std::io::ErrorKind::NotFound => {
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

/// The run's configuration from the settings the keywords gave (JSON, by
/// flat name: `folds`, `gbt_max_leaves`), layered and checked as the
/// command line's are ([`cpd::settings::Given`]).
fn config(models: &[String], settings_json: &str) -> PyResult<AnalyzeConfig> {
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(settings_json)
        .map_err(|e| invalid(format!("settings are not JSON: {e}")))?;
    let settings = Given::from_flat(map)
        .and_then(|g| g.resolve())
        .map_err(py_err)?;
    let inputs = Inputs {
        embeddings: models
            .iter()
            .map(|m| EmbeddingSpec {
                model: m.clone(),
                paths: vec![memory_label(m)],
                layers: None,
                channels: None,
                channel_layers: None,
            })
            .collect(),
        composition: CompositionSource::Table(PathBuf::from(COMPOSITIONS)),
        targets: PathBuf::from(TARGETS),
    };
    settings.config(inputs).map_err(py_err)
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

    /// The report in brief as an HTML fragment (a notebook's display).
    fn html(&self) -> String {
        summary_html(&self.analysis.report, self.analysis.ids.len())
    }

    /// Every figure as (file name, title, SVG document).
    fn figures(&self) -> PyResult<Vec<(String, String, String)>> {
        Ok(figures(&self.analysis.report)
            .map_err(py_err)?
            .into_iter()
            .map(|f| (f.file_name, f.title, f.svg))
            .collect())
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

/// The run's configuration and its inputs in memory (the arrays shared,
/// not copied: the guards must outlive the library call).
#[allow(clippy::too_many_arguments)]
fn memory_inputs<'py>(
    embeddings: Vec<ModelArrays<'py>>,
    comp_ids: Vec<String>,
    comp_columns: Vec<String>,
    comp_values: Bound<'py, PyAny>,
    target_ids: Vec<String>,
    target_columns: Vec<String>,
    target_values: Bound<'py, PyAny>,
    settings: &str,
) -> PyResult<(AnalyzeConfig, InMemory, Vec<Guard<'py>>)> {
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
    Ok((config, data, guards))
}

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
    settings: &str,
    threads: Option<usize>,
) -> PyResult<NativeReport> {
    let (config, data, guards) = memory_inputs(
        embeddings,
        comp_ids,
        comp_columns,
        comp_values,
        target_ids,
        target_columns,
        target_values,
        settings,
    )?;
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

/// One residual record: (model, layer, target, probe, R² per fold, mean R²).
type ResidualRow = (String, String, String, String, Vec<f64>, f64);

/// `cpd.decompose` and `profile`: every probe on each layer's residual only
/// ([`residual_in_memory`]). Returns the records, each layer's (model,
/// layer, composition share), the projection's rank and dropped columns,
/// and the fold of each row.
#[pyfunction]
#[pyo3(signature = (embeddings, comp_ids, comp_columns, comp_values, target_ids, target_columns, target_values, settings, threads=None))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
fn residual<'py>(
    py: Python<'py>,
    embeddings: Vec<ModelArrays<'py>>,
    comp_ids: Vec<String>,
    comp_columns: Vec<String>,
    comp_values: Bound<'py, PyAny>,
    target_ids: Vec<String>,
    target_columns: Vec<String>,
    target_values: Bound<'py, PyAny>,
    settings: &str,
    threads: Option<usize>,
) -> PyResult<(
    Vec<ResidualRow>,
    Vec<(String, String, Option<f64>)>,
    usize,
    Vec<String>,
    Vec<usize>,
)> {
    let (config, data, guards) = memory_inputs(
        embeddings,
        comp_ids,
        comp_columns,
        comp_values,
        target_ids,
        target_columns,
        target_values,
        settings,
    )?;
    let scores = compute(py, threads, || residual_in_memory(&config, &data))?.map_err(py_err)?;
    drop(data);
    drop(guards);
    Ok((
        scores
            .records
            .into_iter()
            .map(|r| {
                (
                    r.model,
                    r.layer,
                    r.target,
                    r.probe.name().to_string(),
                    r.r2_folds,
                    r.r2_mean,
                )
            })
            .collect(),
        scores
            .layers
            .into_iter()
            .map(|l| (l.model, l.layer, l.composition_share))
            .collect(),
        scores.rank,
        scores.dropped,
        scores.folds,
    ))
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

/// Every setting: (keyword, key, flag, default as JSON, help), in the
/// order of `cpd analyze --help`: `cpd/__init__.py` builds `analyze`'s
/// signature and docstring from it.
#[pyfunction]
fn settings_reference() -> PyResult<Vec<(String, String, String, String, String)>> {
    Ok(cpd::settings::reference()
        .map_err(py_err)?
        .into_iter()
        .map(|e| (e.name, e.key, e.flag, e.default.to_string(), e.help))
        .collect())
}

/// The settings `settings` (JSON, by keyword) resolve to, as a manifest's
/// `[settings]` table (`cpd.print_settings`).
#[pyfunction]
fn settings_toml(settings: &str) -> PyResult<String> {
    let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(settings)
        .map_err(|e| invalid(format!("settings are not JSON: {e}")))?;
    Given::from_flat(map)
        .and_then(|g| g.resolve())
        .and_then(|s| s.to_toml())
        .map_err(py_err)
}

/// The crate's version.
#[pyfunction]
fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

#[pymodule]
fn _cpd(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeReport>()?;
    m.add_function(wrap_pyfunction!(analyze, m)?)?;
    m.add_function(wrap_pyfunction!(residual, m)?)?;
    m.add_function(wrap_pyfunction!(project, m)?)?;
    m.add_function(wrap_pyfunction!(check, m)?)?;
    m.add_function(wrap_pyfunction!(settings_reference, m)?)?;
    m.add_function(wrap_pyfunction!(settings_toml, m)?)?;
    m.add_function(wrap_pyfunction!(version, m)?)?;
    Ok(())
}
