//! Lockstep host tools: everything the `lockstep` command does, as a library. The binary in
//! `main.rs` only parses arguments and calls one [`commands`] function, which does the
//! command's file work and calls the modules below.
//!
//! Models are always read and written through `lockstep_engine`: `compile` produces engine
//! bytes, and `predict`/`inspect` load those bytes exactly as a device would.

pub mod bundle;
pub mod check;
pub mod codegen;
pub mod commands;
pub mod compile;
pub mod data;
pub mod inspect;
pub mod keys;
pub mod limits;
pub mod math;
pub mod metrics;
pub mod output;
pub mod parity;
pub mod pipeline;
pub mod predict;
pub mod registry;
pub mod rng;
pub mod synth;
pub mod text;
pub mod threads;
pub mod train;
pub mod validate;
