//! What the host and the Cortex-M parity firmware agree on, written once for both sides: the
//! files they exchange through semihosting ([`exchange`]), the lines the firmware reports on
//! its console ([`report`]), and the devices it runs on ([`targets`]: triples, QEMU machines,
//! memory layouts, from which firmware-demo's build script generates its linker scripts), and
//! which cells of a text row are missing values ([`cells`]).
//!
//! `no_std`, no allocator, no `unsafe`, no dependencies (but lockstep-seal with the `seal` feature): the firmware links it, the host tools
//! and the firmware's build script use it on the host. The model bytes themselves are the
//! engine's business (`lockstep-engine`); this crate only frames them.
#![cfg_attr(not(test), no_std)]
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod cells;
pub mod exchange;
pub mod report;
pub mod targets;

pub use exchange::{FileKind, Header, ProtocolError};
pub use targets::{Target, TARGETS};
