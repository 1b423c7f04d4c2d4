//! Lockstep's evaluator: a `no_std`, allocation-free tree-ensemble engine over a compact,
//! versioned model format that is read in place from a byte slice (RAM or flash).
//!
//! ```
//! use lockstep_engine::{Error, Model};
//!
//! // A two-tree XGBoost model over `age` and `asa` (the golden model of
//! // tests/tests/golden_format.rs). On a device the bytes would sit in flash.
//! static MODEL: &[u8] =
//!     include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/tiny.lsm"));
//!
//! let model = Model::from_bytes(MODEL)?; // every invariant checked once, here
//! let (mut margins, mut probs) = ([0.0f32; 1], [0.0f32; 1]);
//! model.predict(&[70.0, 2.0], &mut margins, &mut probs)?; // cannot fail on indices now
//! assert_eq!(margins, [0.0625]);
//! assert!(probs[0] > 0.5 && probs[0] < 0.52);
//! # Ok::<(), Error>(())
//! ```
//!
//! The same code runs on x86_64 hosts and Cortex-M devices and yields the same bits: sums run
//! in a fixed order, and every transcendental function comes from [`math`], a pure-Rust port
//! that reproduces the host C library's results exactly.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]
// Comparisons such as `!(x < 0.0)` are deliberate: they spell out what NaN does, exactly as the
// source frameworks' C++ does, and `partial_cmp` would hide that.
#![allow(clippy::neg_cmp_op_on_partial_ord)]

#[cfg(feature = "alloc")]
extern crate alloc;

mod cost;
mod error;
mod model;
mod predict;

// The whole public API. Everything else is private to the crate.

// Loading and evaluating: the validated model view, its results, the one error type.
pub use cost::{Budget, BudgetItem, Cost, PREDICT_STACK_BYTES_CORTEX_M};
pub use error::Error;
pub use model::{FeatureNames, LevelTerms, Model};
pub use predict::{transform_xgboost, Scores, BLOCK_ROWS, CANONICAL_NAN_F32, CANONICAL_NAN_F64};

// The wire format: magic, version, the enums a model declares, limits, threshold helpers.
pub mod format;
// The portable transcendental functions every target evaluates with.
pub mod math;
// Read-only views of a loaded model's trees (`Model::tree`, `Model::trees`), for tools.
pub mod view;
// The one writer of the format (feature `build`, needs an allocator).
#[cfg(feature = "build")]
pub mod builder;
