//! The paper's analyses, computed from a run's records and representations:
//! compositional controls and probe inflation ([`controls`]), irreps channel
//! routing ([`channels`]), learning curves ([`curve`]), layer and model
//! profiles ([`profile`]), the linear–nonlinear gap ([`gaps`]) and the
//! instability diagnostics ([`instability`]), the isomer test ([`isomer`]),
//! per-layer statistics ([`layerstats`]), the rare elements of the
//! composition ([`rare`]), linear CKA between layers
//! ([`similarity`]) and the verdict that opens a report ([`verdict`]).

pub mod channels;
pub mod compare;
pub mod controls;
pub mod curve;
pub mod gaps;
pub mod instability;
pub mod isomer;
pub mod layerstats;
pub mod profile;
pub mod rare;
pub mod similarity;
pub mod verdict;
