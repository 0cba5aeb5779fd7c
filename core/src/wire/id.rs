//! Command ids: the first four bytes of MD5 of the command string, read big-endian.

use md5::{Digest, Md5};

/// The TCP command id of `name`: `MD5(name)[0..4]` as a big-endian `u32`.
///
/// The bytes are hashed exactly as given — `"git status"` with its space, no trimming and no case
/// folding — which is bit-exact with upstream's `hashlib.md5(cmd.encode()).digest()[:4]`.
///
/// ```
/// // From the spec-layout `rm` descriptor: bytes 6..10 are d6 7f 24 9b.
/// assert_eq!(tcap_core::wire::command_id(b"rm"), 0xd67f_249b);
/// ```
pub fn command_id(name: &[u8]) -> u32 {
    let digest = Md5::digest(name);
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_ids() {
        // Ids taken from real upstream descriptors (bytes 6..10).
        assert_eq!(command_id(b"rm"), 0xd67f_249b);
        assert_eq!(command_id(b"cat"), 0xd077_f244);
        assert_eq!(command_id(b"ls"), 0x44ba_5ca6);
        assert_eq!(command_id(b"!"), 0x9033_e0e3);
        assert_eq!(command_id(b":"), 0x853a_e90f);
    }

    #[test]
    fn no_normalisation() {
        assert_ne!(command_id(b"rm"), command_id(b"RM"));
        assert_ne!(command_id(b"rm"), command_id(b" rm"));
        assert_ne!(command_id(b"git status"), command_id(b"git  status"));
    }
}
