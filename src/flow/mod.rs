//! The data-flow steps between loading ([`crate::io`]) and probing
//! ([`crate::probe`]): align rows by id ([`dataset`]), project composition
//! out ([`projection`]), split into folds ([`folds`]), read representations
//! as row blocks ([`rows`]) with their per-fold Gram sums ([`moments`]),
//! and the scores' metrics ([`metrics`]). Scoring a probe under
//! cross-validation is the probe's step (`probe::cv`).

pub mod bootstrap;
pub mod dataset;
pub mod folds;
pub mod metrics;
pub mod moments;
pub mod permutation;
pub mod projection;
pub mod rows;
