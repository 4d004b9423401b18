//! What the command line can ask for, as library calls that never print:
//! a whole run ([`analyze`]), its manifest ([`manifest`]), a regression gate
//! between two reports ([`check`]), a look at an embedding file
//! ([`inspect`]), and a run over many machines: shards of `analyze`
//! joined by [`merge`], as a SLURM array job ([`slurm`]).

pub mod analyze;
pub mod check;
pub mod inspect;
pub mod manifest;
pub mod merge;
pub mod slurm;
