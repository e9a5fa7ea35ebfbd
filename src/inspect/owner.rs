//! Is a recorded process or thread still alive? The inspector's answer is the judge's
//! in `sys::liveness` (the back-stops and the sweeps of names that record their creator
//! use it too): "dead" only from positive evidence, about ids of the inspector's own PID
//! namespace; otherwise [`Liveness::Unknown`]. This module gives the inspector its public
//! names (the judge's own tests live beside it).

pub use crate::sys::liveness::Liveness;
pub(crate) use crate::sys::liveness::Vantage;
