//! The data-flow steps between loading ([`crate::io`]) and probing
//! ([`crate::probe`]): align rows by id ([`dataset`]), project composition
//! out ([`projection`]), split into folds ([`folds`]), read representations
//! as row blocks ([`rows`]), and score probes under cross-validation
//! ([`cv`], [`metrics`]).

pub mod cv;
pub mod dataset;
pub mod folds;
pub mod metrics;
pub mod projection;
pub mod rows;
