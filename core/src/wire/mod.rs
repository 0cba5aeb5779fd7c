//! Wire formats: the TCP descriptor, command ids, the upstream `TCPDB` container and tcap's own records.
//!
//! Every parser follows the same two-layer pattern: a zero-copy view (`Packet<T: AsRef<[u8]>>`-style)
//! whose `new_checked` validates lengths once, after which no accessor can panic; and a plain `Repr`
//! struct with `parse` and `emit`.

mod flags;
mod id;
pub mod record;

pub use flags::{Flags, KbFlags, Risk};
pub use id::command_id;
