//! # cpd — Composition Projection Decomposition
//!
//! Measures what an atomistic model's embeddings encode beyond composition:
//! the embedding `H` is projected off the span of `[1 | composition]` and
//! probes are cross-validated on the residual, beside the composition-only
//! and raw baselines (see `DESIGN.md`).
//!
//! Data flows one way:
//!
//! 1. [`io`] loads embeddings, tables and structures;
//! 2. [`flow`] aligns rows by id, projects composition out and splits
//!    folds;
//! 3. [`probe`] fits ridge, MLP and GBT probes on each training fold and
//!    scores them on the held-out rows ([`probe::cv`]);
//! 4. [`analyses`] turn records into the paper's findings (controls,
//!    channel routing, learning curves, profiles, gaps, instability);
//! 5. [`report`] holds the report schema and writes it (JSON, CSV,
//!    Markdown, HTML, SVG).
//!
//! [`settings`] defines every setting of a run once (manifest, flags and
//! Python keywords alike). [`commands`] runs that chain for each command of the CLI (`analyze` in
//! named stages, or one shard of it; `merge` of the shards, `slurm` job
//! scripts, `check`, `inspect`, manifests). [`linalg`] and [`error`]
//! serve every step. The library never prints and never exits.

pub mod analyses;
pub mod commands;
pub mod error;
pub mod flow;
pub mod io;
pub mod linalg;
pub mod probe;
pub mod report;
pub mod settings;

pub use error::{CpdError, Result};
