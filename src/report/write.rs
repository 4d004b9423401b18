//! Writing a run's files: `folds.csv`, `results.csv`, `report.md`,
//! `report.html`, the analyses' CSV files, one SVG per figure and
//! `report.json`. Every file is first written in full to a temporary file in
//! the output directory; only when all are complete are they renamed into
//! place, `report.json` last. Each file is therefore either the old or the
//! new one, never half-written, and a new `report.json` means the other
//! files are new too.

use std::io::Write;
use std::path::{Path, PathBuf};

use tempfile::NamedTempFile;

use super::figures::figures;
use super::html::report_html;
use super::markdown::report_markdown;
use super::Report;
use crate::error::{CpdError, Result};
use crate::io::ids::Ids;

/// File names written into the output directory.
pub const REPORT_JSON: &str = "report.json";
/// Tidy per-record CSV.
pub const RESULTS_CSV: &str = "results.csv";
/// Markdown report.
pub const REPORT_MD: &str = "report.md";
/// Self-contained HTML report (tables and inline SVG figures).
pub const REPORT_HTML: &str = "report.html";
/// Fold assignment used (`id,fold`).
pub const FOLDS_CSV: &str = "folds.csv";
/// Out-of-fold predictions of every record (`--predictions`).
pub const PREDICTIONS_CSV: &str = "predictions.csv";

/// Create the output directory and check that it is writable, so that a bad
/// path fails before the long work starts.
pub fn prepare_out_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| unwritable(dir, e))?;
    NamedTempFile::new_in(dir).map_err(|e| unwritable(dir, e))?;
    Ok(())
}

/// The error of an output directory that cannot be created or written.
/// The cause is named by its kind ("permission denied", "no storage
/// space"): tempfile's errors carry the temporary file's name, which says
/// nothing to the user.
fn unwritable(dir: &Path, e: std::io::Error) -> CpdError {
    let cause = match e.raw_os_error() {
        Some(code) => std::io::Error::from_raw_os_error(code).to_string(),
        None => e.kind().to_string(),
    };
    io_error(
        dir,
        &e,
        format!("cannot write the run's files here: {cause}"),
    )
}

/// An I/O error of `path` said as `message`, of `e`'s kind (so that the
/// Python layer still raises the OSError subclass of the cause).
fn io_error(path: &Path, e: &std::io::Error, message: String) -> CpdError {
    CpdError::io(path, std::io::Error::new(e.kind(), message))
}

/// Write `folds.csv`, `results.csv`, `report.md`, `report.html`, the
/// analyses' CSV files (`gaps.csv`, `controls.csv`, …: those of each part
/// in `src/report/parts/`), the figures (`r2_<target>_<probe>.svg`, then
/// the analyses'; see `figures::figures`) and `report.json`, in that order.
/// Returns the paths written.
///
/// SVG files of an earlier run in the same directory that this run does not
/// draw (another target, say) are left in place. `extra` files (name,
/// bytes), such as [`predictions_csv`], are staged and renamed with the
/// others, before `report.json`.
pub fn write_outputs(
    dir: &Path,
    report: &Report,
    ids: &Ids,
    assignment: &[usize],
    extra: Vec<(String, Vec<u8>)>,
) -> Result<Vec<PathBuf>> {
    prepare_out_dir(dir)?;
    let mut json = serde_json::to_string_pretty(report)
        .map_err(|e| CpdError::format(dir.join(REPORT_JSON), e.to_string()))?;
    json.push('\n');
    let figures = figures(report)?;
    // report.json is renamed last: when it is new, so are the others.
    let mut files = vec![
        (FOLDS_CSV.to_string(), folds_csv(ids, assignment)?),
        (RESULTS_CSV.to_string(), results_csv(report)?),
    ];
    files.extend([
        (REPORT_MD.to_string(), report_markdown(report).into_bytes()),
        (
            REPORT_HTML.to_string(),
            report_html(report, &figures).into_bytes(),
        ),
    ]);
    files.extend(super::parts::csv_files(report)?);
    files.extend(extra);
    files.extend(
        figures
            .into_iter()
            .map(|f| (f.file_name, f.svg.into_bytes())),
    );
    files.push((REPORT_JSON.to_string(), json.into_bytes()));
    write_files(dir, files)
}

/// Write `files` (name, bytes) into `dir`: each in full to a temporary
/// file first, then all renamed into place in order (put `report.json`
/// last). Returns the paths written.
pub fn write_files(dir: &Path, files: Vec<(String, Vec<u8>)>) -> Result<Vec<PathBuf>> {
    let mut staged = Vec::with_capacity(files.len());
    for (name, bytes) in files {
        let mut builder = tempfile::Builder::new();
        builder.prefix(".cpd-partial-");
        // Reports are for sharing: rw-r--r--, not the 0600 of a temporary file.
        #[cfg(unix)]
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
        // Until every file is staged nothing is replaced; a failure drops
        // the temporary files staged so far (removing them).
        let mut tmp = builder.tempfile_in(dir).map_err(|e| unwritable(dir, e))?;
        // Through the file itself: its errors are the system's, without
        // the temporary name.
        let file = tmp.as_file_mut();
        file.write_all(&bytes)
            .and_then(|_| file.sync_all())
            .map_err(|e| {
                io_error(
                    &dir.join(&name),
                    &e,
                    format!("writing it failed: {e}; no file in the directory was replaced"),
                )
            })?;
        staged.push((tmp, dir.join(name)));
    }
    let mut written = Vec::with_capacity(staged.len());
    for (tmp, dest) in staged {
        tmp.persist(&dest).map_err(|e| {
            io_error(
                &dest,
                &e.error,
                format!(
                    "moving it into place failed: {}; report.json was not replaced",
                    e.error
                ),
            )
        })?;
        written.push(dest);
    }
    Ok(written)
}

/// Write `bytes` to `path` through a temporary file in its directory
/// renamed into place: the file is the old one or the new one, never half
/// written.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut builder = tempfile::Builder::new();
    builder.prefix(".cpd-partial-");
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o644));
    let mut tmp = builder
        .tempfile_in(dir)
        .map_err(|e| io_error(path, &e, format!("cannot write here: {}", e.kind())))?;
    let file = tmp.as_file_mut();
    file.write_all(bytes)
        .and_then(|_| file.sync_all())
        .map_err(|e| {
            io_error(
                path,
                &e,
                format!("writing it failed: {e}; the file was not replaced"),
            )
        })?;
    tmp.persist(path).map_err(|e| {
        io_error(
            path,
            &e.error,
            format!(
                "moving it into place failed: {}; the file was not replaced",
                e.error
            ),
        )
    })?;
    Ok(())
}

/// Append `text` to the file at `path` (created when absent) the same way:
/// the old content and `text` are written to a temporary file renamed into
/// place.
pub fn append_file(path: &Path, text: &str) -> Result<()> {
    let mut bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(CpdError::io(path, e)),
    };
    bytes.extend_from_slice(text.as_bytes());
    write_file(path, &bytes)
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map(|x| x.to_string()).unwrap_or_default()
}

fn join(v: &[f64]) -> String {
    v.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(";")
}

/// One row per record; list-valued fields are `;`-separated.
pub fn results_csv(report: &Report) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let err = |e: csv::Error| CpdError::format(RESULTS_CSV, e.to_string());
    w.write_record([
        "model",
        "layer",
        "channels",
        "target",
        "representation",
        "probe",
        "r2_mean",
        "r2_std",
        "r2_pooled",
        "mae",
        "rmse",
        "n",
        "folds",
        "alpha",
        "alphas",
        "r2_folds",
        "r2_median",
        "unstable",
        "alpha_at_edge",
        "isomer_accuracy",
        "isomer_pairs",
        "r2_ci_lo",
        "r2_ci_hi",
        "null_mean",
        "null_q95",
        "null_p",
        "isomer_ci_lo",
        "isomer_ci_hi",
        "r2_cond",
        "r2_cond_ci_lo",
        "r2_cond_ci_hi",
        "r2_cond_folds",
    ])
    .map_err(err)?;
    let lo = |ci: Option<[f64; 2]>| fmt_opt(ci.map(|c| c[0]));
    let hi = |ci: Option<[f64; 2]>| fmt_opt(ci.map(|c| c[1]));
    for r in &report.results {
        w.write_record([
            r.model.clone(),
            r.layer.clone(),
            r.channels.clone().unwrap_or_default(),
            r.target.clone(),
            r.representation.clone(),
            r.probe.clone(),
            fmt_opt(r.r2_mean),
            fmt_opt(r.r2_std),
            fmt_opt(r.r2_pooled),
            fmt_opt(r.mae),
            fmt_opt(r.rmse),
            r.n.to_string(),
            r.folds.to_string(),
            fmt_opt(r.alpha),
            r.alphas.as_deref().map(join).unwrap_or_default(),
            join(&r.r2_folds),
            fmt_opt(r.r2_median),
            r.unstable.to_string(),
            r.alpha_at_edge.map(|b| b.to_string()).unwrap_or_default(),
            fmt_opt(r.isomer_accuracy),
            r.isomer_pairs.to_string(),
            lo(r.r2_ci),
            hi(r.r2_ci),
            fmt_opt(r.null.map(|n| n.mean)),
            fmt_opt(r.null.map(|n| n.q95)),
            fmt_opt(r.null.map(|n| n.p)),
            lo(r.isomer_ci),
            hi(r.isomer_ci),
            fmt_opt(r.r2_cond),
            lo(r.r2_cond_ci),
            hi(r.r2_cond_ci),
            join(&r.r2_cond_folds),
        ])
        .map_err(err)?;
    }
    w.into_inner()
        .map_err(|e| CpdError::format(RESULTS_CSV, e.to_string()))
}

/// `predictions.csv`: one row per (record, structure), records in report
/// order and structures in `ids` order: `id, fold, model, layer, channels,
/// target, representation, probe, y, y_pred`. `y` holds the targets in
/// `ids` order, one column per `report.settings.targets`; `oof` the
/// out-of-fold predictions parallel to `report.results`.
pub fn predictions_csv(
    report: &Report,
    ids: &Ids,
    assignment: &[usize],
    y: ndarray::ArrayView2<'_, f64>,
    oof: &[Vec<f64>],
) -> Result<Vec<u8>> {
    let err = |e: csv::Error| CpdError::format(PREDICTIONS_CSV, e.to_string());
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "id",
        "fold",
        "model",
        "layer",
        "channels",
        "target",
        "representation",
        "probe",
        "y",
        "y_pred",
    ])
    .map_err(err)?;
    for (r, pred) in report.results.iter().zip(oof) {
        let t = report
            .settings
            .targets
            .iter()
            .position(|t| t == &r.target)
            .ok_or_else(|| {
                CpdError::Invalid(format!("record {} has an unknown target", r.key()))
            })?;
        let channels = r.channels.as_deref().unwrap_or("");
        for (i, id) in ids.iter().enumerate() {
            let fold = assignment[i].to_string();
            let (yv, pv) = (y[(i, t)].to_string(), pred[i].to_string());
            w.write_record([
                id,
                &fold,
                &r.model,
                &r.layer,
                channels,
                &r.target,
                &r.representation,
                &r.probe,
                &yv,
                &pv,
            ])
            .map_err(err)?;
        }
    }
    w.into_inner()
        .map_err(|e| CpdError::format(PREDICTIONS_CSV, e.to_string()))
}

/// `id,fold` for every row.
pub fn folds_csv(ids: &Ids, assignment: &[usize]) -> Result<Vec<u8>> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let err = |e: csv::Error| CpdError::format(FOLDS_CSV, e.to_string());
    w.write_record(["id", "fold"]).map_err(err)?;
    for (id, f) in ids.iter().zip(assignment) {
        w.write_record([id, &f.to_string()]).map_err(err)?;
    }
    w.into_inner()
        .map_err(|e| CpdError::format(FOLDS_CSV, e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::fixture::{report, triple};

    #[test]
    fn gaps_need_ridge_and_mlp_and_go_to_gaps_csv() {
        let mut results = triple("m", "l", "gap", [Some(0.4), Some(0.7), Some(0.3)]);
        assert!(report(results.clone()).gaps.is_empty());
        let mut mlp = triple("m", "l", "gap", [Some(0.5), Some(0.8), Some(0.6)]);
        mlp.iter_mut().for_each(|r| r.probe = "mlp".into());
        results.extend(mlp);
        let mut r = report(results);
        // As `crate::analyses::gaps::gaps` computes it (tested there).
        r.gaps = vec![crate::report::GapRecord {
            model: "m".into(),
            layer: "l".into(),
            channels: None,
            target: "gap".into(),
            r2_geom_ridge: Some(0.3),
            r2_geom_mlp: Some(0.6),
            r2_cond_ridge: Some(0.35),
            r2_cond_mlp: Some(0.65),
            gap_geom: Some(0.3),
            gap: Some(0.3),
            disentanglement: Some(0.05),
            gap_ci: Some([0.25, 0.375]),
        }];
        let dir = tempfile::tempdir().unwrap();
        let written = write_outputs(dir.path(), &r, &Ids::new(), &[], Vec::new()).unwrap();
        assert!(written.iter().any(|p| p.ends_with("gaps.csv")));
        let csv = std::fs::read_to_string(dir.path().join("gaps.csv")).unwrap();
        assert!(csv.starts_with(
            "model,layer,channels,target,r2_geom_ridge,r2_geom_mlp,gap,disentanglement,\
             gap_ci_lo,gap_ci_hi,r2_cond_ridge,r2_cond_mlp,gap_geom\n"
        ));
        assert!(
            csv.contains("m,l,,gap,0.3,0.6,0.3,0.05,0.25,0.375,0.35,0.65,0.3\n"),
            "{csv}"
        );
        let md = report_markdown(&r);
        assert!(md.contains("## Linear–nonlinear gap on the residual") && md.contains("+0.300"));
    }

    #[test]
    fn writes_html_and_one_svg_per_figure_with_json_last() {
        let dir = tempfile::tempdir().unwrap();
        let mut results = triple("m", "l", "gap", [Some(0.4), Some(0.7), Some(0.3)]);
        results.extend(triple(
            "m",
            "l",
            "dipole debye",
            [Some(0.2), Some(0.4), Some(0.1)],
        ));
        let r = report(results);
        let ids: Ids = (0..4).map(|i| format!("id{i}")).collect();
        let written = write_outputs(dir.path(), &r, &ids, &[0, 1, 0, 1], Vec::new()).unwrap();
        let names: Vec<String> = written
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            names,
            [
                "folds.csv",
                "results.csv",
                "report.md",
                "report.html",
                "r2_gap_ridge.svg",
                "r2_dipole_debye_ridge.svg",
                "report.json"
            ]
        );
        for p in &written {
            assert!(p.starts_with(dir.path()) && p.is_file(), "{p:?}");
        }
        let html = std::fs::read_to_string(dir.path().join(REPORT_HTML)).unwrap();
        let svg = std::fs::read_to_string(dir.path().join("r2_gap_ridge.svg")).unwrap();
        // The standalone SVG keeps its namespace; the inlined copy is the same drawing.
        assert!(svg.starts_with("<svg ") && svg.contains("xmlns=\"http://www.w3.org/2000/svg\""));
        let body = &svg[svg.find('>').unwrap()..];
        assert!(html.contains(body));
        // Nothing left behind from staging.
        let stray: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with(".cpd-partial-"))
            .collect();
        assert!(stray.is_empty(), "{stray:?}");
        // Readable by others, like any report a person shares.
        #[cfg(unix)]
        for p in &written {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o644, "{}", p.display());
        }
    }
}
