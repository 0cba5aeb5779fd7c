//! # tcap-core
//!
//! The `no_std`, allocation-free heart of tcap: a real-time safety gate for AI agents' tool calls built on
//! the Tool Capability Protocol (TCP).
//!
//! * [`wire`] — the 24-byte TCP descriptor (all three upstream flavours), command ids, the upstream
//!   `TCPDB` container, and tcap's own event/decision records.
//! * [`registry`] — an immutable, validated, zero-copy lookup image: by command id and by name.
//! * [`behavior`] — per-agent behavioural state (one cache line), fixed-point evidence, population baseline.
//! * [`network`] — trust graph, quarantine, peer votes and self-repairing routes.
//! * [`gate`] — the policy that turns descriptor × behaviour × network into a verdict.
//!
//! The core is sans-IO: it never reads a clock, a file or a socket. Callers pass `now` (microseconds on a
//! monotonic clock of their choice) and all storage in.
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "alloc")]
extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod behavior;
pub mod gate;
mod hint;
pub mod network;
pub mod registry;
#[cfg(test)]
mod test_rng;
pub mod wire;

/// Monotonic time in microseconds, supplied by the caller. The origin is arbitrary but fixed.
pub type Micros = u64;
