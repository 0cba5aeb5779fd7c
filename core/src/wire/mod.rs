//! Wire formats: the TCP descriptor, command ids, the upstream `TCPDB` container and tcap's own records.
//!
//! Every parser follows the same two-layer pattern: a zero-copy view (`Packet<T: AsRef<[u8]>>`-style)
//! whose `new_checked` validates lengths once, after which no accessor can panic; and a plain `Repr`
//! struct with `parse` and `emit`. docs/FORMAT.md describes every byte.

mod crc;
mod descriptor;
mod flags;
mod id;
pub mod record;
pub mod tcpdb;

pub use crc::{crc32, crc32_bitwise, descriptor_byte_sum, descriptor_crc16};
pub use descriptor::{
    DESCRIPTOR_LEN, DecodeError, Decoded, Descriptor, DescriptorRepr, EmitError, Flavour, HEADER, Inspection,
    MAGIC, RegistryLayout, SpecLayout, VERSION, decode, decode_array,
};
pub use flags::{Flags, KbFlags, Risk, UnmappedBits};
pub use id::command_id;
pub use tcpdb::{TcpDb, TcpDbEntry, TcpDbError, TcpDbIndexEntry};
