//! What the command line can ask for, as library calls that never print:
//! a whole run ([`analyze`]), its manifest ([`manifest`]), a regression gate
//! between two reports ([`check`]) and a look at an embedding file
//! ([`inspect`]).

pub mod analyze;
pub mod check;
pub mod inspect;
pub mod manifest;
