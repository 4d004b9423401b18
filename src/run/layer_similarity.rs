//! Stage 5b (`--similarity`): linear CKA between every pair of whole layers
//! of every model, on raw and on geom ([`crate::analyses::similarity`]).
//!
//! Layers of different files need both layers' rows at once, and the probing
//! stage holds one file at a time. This stage therefore walks the pairs of
//! files: file `i` is loaded, its own layer pairs are scored, then each later
//! file `j` is loaded beside it for the cross pairs. At most two files are in
//! memory; a run with `M` files loads `M(M+1)/2` times, and every pair of
//! layers costs one pass over both (`n·d_a·d_b`), never an `n × n` matrix.
//! Each layer's own norm `‖XᵀX‖_F` is computed once and kept.

use std::collections::HashMap;

use super::load::select_layers;
use super::{AnalyzeConfig, EmbeddingSpec};
use crate::analyses::similarity::{cka, Centred};
use crate::error::{CpdError, Result};
use crate::flow::dataset::Dataset;
use crate::flow::projection::{residual_zero_tol, Projection, Residual};
use crate::flow::rows::{Rows, Stored};
use crate::io::embeddings::{self, EmbeddingFile, Layer};
use crate::report::{InputInfo, SimilarityRecord};

/// One model's whole layers, as selected for the run (from its files, or
/// from memory). A file opened again here must hold the bytes the probing
/// stage read (`inputs`' SHA-256, when that stage read it): one replaced
/// between the stages would mix two extractions in one report. (Changes
/// while this stage reads are caught by the reads themselves.)
pub(super) fn load_layers(
    config: &AnalyzeConfig,
    ds: &Dataset,
    spec: &EmbeddingSpec,
    memory: Option<&EmbeddingFile>,
    inputs: &[InputInfo],
) -> Result<Vec<Layer>> {
    let file = match memory {
        Some(m) => m.clone(), // shared layers are not copied
        None => {
            let (file, _) = embeddings::open(&spec.paths, config.pool)?;
            for path in &spec.paths {
                let shown = path.display().to_string();
                let earlier = inputs
                    .iter()
                    .find(|i| i.role == "embeddings" && i.path == shown)
                    .map(|i| &i.sha256);
                if let Some(earlier) = earlier {
                    if crate::io::sha256_file(path)? != *earlier {
                        return Err(CpdError::format(
                            path,
                            "changed while it was being read (its bytes differ from those probed earlier in the run)",
                        ));
                    }
                }
            }
            file
        }
    };
    let file = select_layers(file, spec.layers.as_deref())?;
    ds.align_embedding(file)
}

/// CKA of every pair of layers (upper triangle with the diagonal, in run
/// order: model by model, layer by layer), raw records first, then geom.
pub(super) fn similarity(
    config: &AnalyzeConfig,
    memory: Option<&[EmbeddingFile]>,
    ds: &Dataset,
    projection: &Projection,
    inputs: &[InputInfo],
) -> Result<Vec<SimilarityRecord>> {
    let specs = &config.embeddings;
    let mut norms: HashMap<(usize, usize, &str), f64> = HashMap::new();
    let mut out: [Vec<SimilarityRecord>; 2] = Default::default();
    for (i, spec_a) in specs.iter().enumerate() {
        let layers_a = load_layers(config, ds, spec_a, memory.map(|m| &m[i]), inputs)?;
        let raw_a = raw_rows(&layers_a);
        let geom_a = geom_rows(&layers_a, &raw_a, projection);
        for (j, spec_b) in specs.iter().enumerate().skip(i) {
            let layers_b = if j == i {
                Vec::new()
            } else {
                load_layers(config, ds, spec_b, memory.map(|m| &m[j]), inputs)?
            };
            let lb = if j == i { &layers_a } else { &layers_b };
            let raw_b = raw_rows(&layers_b);
            let geom_b = geom_rows(&layers_b, &raw_b, projection);
            for (r, rep) in ["raw", "geom"].into_iter().enumerate() {
                let rows_a: Vec<&dyn Rows> = if r == 0 {
                    raw_a.iter().map(|x| x as &dyn Rows).collect()
                } else {
                    geom_a.iter().map(|x| x as &dyn Rows).collect()
                };
                let rows_b: Vec<&dyn Rows> = if j == i {
                    rows_a.clone()
                } else if r == 0 {
                    raw_b.iter().map(|x| x as &dyn Rows).collect()
                } else {
                    geom_b.iter().map(|x| x as &dyn Rows).collect()
                };
                let ca = prepare(&rows_a, i, rep, &mut norms);
                let cb = if j == i {
                    Vec::new()
                } else {
                    prepare(&rows_b, j, rep, &mut norms)
                };
                let cb = if j == i { &ca } else { &cb };
                for (a, xa) in ca.iter().enumerate() {
                    let first = if j == i { a } else { 0 };
                    for (b, xb) in cb.iter().enumerate().skip(first) {
                        out[r].push(SimilarityRecord {
                            representation: rep.into(),
                            model_a: spec_a.model.clone(),
                            layer_a: layers_a[a].name.clone(),
                            model_b: spec_b.model.clone(),
                            layer_b: lb[b].name.clone(),
                            cka: cka(xa, xb),
                        });
                    }
                }
            }
            for l in &layers_b {
                l.data.fault()?;
            }
        }
        for l in &layers_a {
            l.data.fault()?;
        }
    }
    let [mut all, geom] = out;
    all.extend(geom);
    Ok(all)
}

pub(super) fn raw_rows(layers: &[Layer]) -> Vec<Stored<'_>> {
    layers.iter().map(|l| Stored(&l.data)).collect()
}

/// Each layer's residual, with the probes' zero tolerance for its type.
fn geom_rows<'a>(
    layers: &[Layer],
    raw: &'a [Stored<'a>],
    projection: &'a Projection,
) -> Vec<Residual<'a>> {
    layers
        .iter()
        .zip(raw)
        .map(|(l, r)| projection.residual_rows(r, residual_zero_tol(l.dtype())))
        .collect()
}

/// Layers prepared for CKA; a layer's norm is computed the first time it
/// is seen (file `f`, layer `l`, representation `rep`) and reused after.
fn prepare<'a>(
    rows: &[&'a dyn Rows],
    f: usize,
    rep: &'static str,
    norms: &mut HashMap<(usize, usize, &'static str), f64>,
) -> Vec<Centred<'a>> {
    rows.iter()
        .enumerate()
        .map(|(l, &x)| match norms.get(&(f, l, rep)) {
            Some(&n) => Centred::with_norm(x, n),
            None => {
                let c = Centred::new(x);
                norms.insert((f, l, rep), c.norm());
                c
            }
        })
        .collect()
}
