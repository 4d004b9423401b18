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
//! Python keywords alike); [`manifest`] reads a run's TOML file. [`run`]
//! runs the chain in named stages (`cpd analyze`), or one shard of it,
//! joins the shards' partial reports ([`run::join`]) and writes SLURM job
//! scripts for them ([`run::jobs`]). [`report::compare`] holds a report to a
//! baseline (`cpd check`); [`describe`] says what an embedding file holds
//! (`cpd inspect`). [`linalg`] and [`error`] serve every step. The library
//! never prints and never exits.

pub mod analyses;
pub mod describe;
pub mod error;
pub mod flow;
pub mod io;
pub mod linalg;
pub mod manifest;
pub mod probe;
pub mod report;
pub mod run;
pub mod settings;

pub use error::{CpdError, Result};
