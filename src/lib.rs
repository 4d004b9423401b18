//! # cpd — Composition Projection Decomposition
//!
//! Measures what an atomistic model's embeddings encode beyond composition:
//! the embedding `H` is projected off the span of `[1 | composition]` and
//! probes are cross-validated on the residual, beside the composition-only
//! and raw baselines (see `DESIGN.md`).
//!
//! Data flows one way, one module per step:
//! [`io`] (load) → [`dataset`] (align) → [`projection`] (project) →
//! [`folds`] (split) → [`probe`] (probe) → [`cv`]/[`metrics`] (score) →
//! [`report`]. [`analysis`] runs the whole chain. The library never prints
//! and never exits.

pub mod analysis;
pub mod channels;
pub mod check;
pub mod controls;
pub mod curve;
pub mod cv;
pub mod dataset;
pub mod diagnostics;
pub mod error;
pub mod folds;
pub mod inspect;
pub mod io;
pub mod linalg;
pub mod manifest;
pub mod metrics;
pub mod probe;
pub mod profile;
pub mod projection;
pub mod report;
pub mod rows;

pub use error::{CpdError, Result};
