//! The case registry: the distributed slice every [`case!`](crate::case) declaration adds
//! one element to, wherever the case is compiled (the cases crate, a test).
//!
//! The slice has no order; the crate that owns the cases puts them in a stable one (module
//! rank, then declaration line) — see `mqttspec_cases::all`.

#[doc(hidden)]
pub use linkme as __linkme;
use linkme::distributed_slice;

use super::Case;

/// Every case registered with [`case!`](crate::case), in no particular order.
#[doc(hidden)]
#[allow(unsafe_code)] // linkme's link sections
#[distributed_slice]
pub static CASES: [Case];
