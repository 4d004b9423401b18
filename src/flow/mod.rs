//! The data-flow steps between loading ([`crate::io`]) and probing
//! ([`crate::probe`]): align rows by id ([`dataset`]), project composition
//! out ([`projection`]), split into folds ([`folds`]), read representations
//! as row blocks ([`rows`]) with their per-fold Gram sums ([`moments`]),
//! and score probes under cross-validation ([`cv`], [`metrics`]).

pub mod cv;
pub mod dataset;
pub mod folds;
pub mod metrics;
pub mod moments;
pub mod projection;
pub mod rows;
