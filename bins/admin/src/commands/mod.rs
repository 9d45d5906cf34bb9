//! One module per command group.

pub mod firmware;
pub mod ota;
pub mod registry;
