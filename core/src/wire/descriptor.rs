//! The 24-byte TCP descriptor (`TCP\x02`), in all three upstream flavours.
//!
//! Layer 1 is [`Descriptor`], a zero-copy view over any `AsRef<[u8]>`; layer 2 is [`DescriptorRepr`], the
//! canonical plain value with [`DescriptorRepr::parse`] and [`DescriptorRepr::emit`]. [`decode`] is the
//! one-call hot path for a 24-byte slice. Byte layouts are [`SpecLayout`] and [`RegistryLayout`]
//! (zerocopy, big-endian fields); docs/FORMAT.md describes every byte.
//!
//! ## Flavours and how one is chosen
//! All three flavours share bytes 0..14 (magic, version, command id, flags) and the checksum at 22.
//!
//! | flavour | perf block 14..22 | checksum over 0..22 | flag map |
//! |---|---|---|---|
//! | [`Flavour::Spec`] | exec u16, mem u16, out u16, cmd len u16 | CRC-32/ISO-HDLC, low 16 bits | spec |
//! | [`Flavour::Registry`] | exec u32, mem u16, out u16 | CRC-32/ISO-HDLC, low 16 bits | spec |
//! | [`Flavour::KnowledgeBase`] | exec u32, mem u16, out u16 | byte sum mod 65536 | knowledge base |
//!
//! The checksum(s) that verify give the candidate flavours; the caller's hint picks among the
//! candidates and is ignored when it is not one of them (a checksum whose result cannot change the
//! answer is not computed: with a knowledge-base hint and a matching byte sum the CRC is skipped):
//! * CRC only → `Registry` if the hint is `Registry`, otherwise `Spec` (the bytes cannot tell the two
//!   CRC layouts apart).
//! * byte sum only → `KnowledgeBase`.
//! * both (about 1 in 65,536 random descriptors) → the hint if there is one, otherwise `Spec`.
//! * neither → [`DecodeError::Checksum`].
//!
//! Under `cfg(fuzzing)` both checksums count as verified, so fuzzers reach the field logic.

use core::fmt;

use zerocopy::byteorder::network_endian::{U16, U32};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout, Unaligned};

use super::crc::{
    descriptor_byte_sum, descriptor_byte_sum_after_header, descriptor_crc16, descriptor_crc16_after_header,
};
use super::flags::{Flags, KbFlags, Risk, UnmappedBits};

/// Length of a descriptor in bytes.
pub const DESCRIPTOR_LEN: usize = 24;
/// The magic bytes at offset 0: `"TCP\x02"`.
pub const MAGIC: [u8; 4] = *b"TCP\x02";
/// The only version (u16 at offset 4) any upstream flavour uses.
pub const VERSION: u16 = 2;
/// The first six bytes of every valid descriptor: magic and version.
pub const HEADER: [u8; 6] = [b'T', b'C', b'P', 0x02, 0x00, 0x02];

/// Spec layout (TCP_SPECIFICATION.md §7.1): u16 performance fields and a command length.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct SpecLayout {
    /// Offset 0: `"TCP\x02"`.
    pub magic: [u8; 4],
    /// Offset 4: version, 2.
    pub version: U16,
    /// Offset 6: `MD5(command)[0..4]`.
    pub command_id: U32,
    /// Offset 10: security flags, spec map.
    pub flags: U32,
    /// Offset 14: typical execution time, ms.
    pub exec_time_ms: U16,
    /// Offset 16: typical memory, MB.
    pub memory_mb: U16,
    /// Offset 18: typical output, KB.
    pub output_kb: U16,
    /// Offset 20: length of the command string in bytes.
    pub command_len: U16,
    /// Offset 22: low 16 bits of CRC-32/ISO-HDLC over bytes 0..22.
    pub checksum: U16,
}

/// Registry and knowledge-base layout: a u32 execution time and no command length.
#[derive(FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned, Clone, Copy, Debug, PartialEq, Eq)]
#[repr(C)]
pub struct RegistryLayout {
    /// Offset 0: `"TCP\x02"`.
    pub magic: [u8; 4],
    /// Offset 4: version, 2.
    pub version: U16,
    /// Offset 6: `MD5(command)[0..4]`.
    pub command_id: U32,
    /// Offset 10: security flags (spec map for registry, knowledge-base map for knowledge base).
    pub flags: U32,
    /// Offset 14: typical execution time, ms.
    pub exec_time_ms: U32,
    /// Offset 18: typical memory, MB.
    pub memory_mb: U16,
    /// Offset 20: typical output, KB.
    pub output_kb: U16,
    /// Offset 22: CRC-32 low 16 bits (registry) or byte sum mod 65536 (knowledge base) of bytes 0..22.
    pub checksum: U16,
}

const _: () = {
    use core::mem::{align_of, offset_of, size_of};
    assert!(size_of::<SpecLayout>() == DESCRIPTOR_LEN && align_of::<SpecLayout>() == 1);
    assert!(size_of::<RegistryLayout>() == DESCRIPTOR_LEN && align_of::<RegistryLayout>() == 1);
    assert!(offset_of!(SpecLayout, version) == 4);
    assert!(offset_of!(SpecLayout, command_id) == 6);
    assert!(offset_of!(SpecLayout, flags) == 10);
    assert!(offset_of!(SpecLayout, exec_time_ms) == 14);
    assert!(offset_of!(SpecLayout, memory_mb) == 16);
    assert!(offset_of!(SpecLayout, output_kb) == 18);
    assert!(offset_of!(SpecLayout, command_len) == 20);
    assert!(offset_of!(SpecLayout, checksum) == 22);
    assert!(offset_of!(RegistryLayout, version) == 4);
    assert!(offset_of!(RegistryLayout, command_id) == 6);
    assert!(offset_of!(RegistryLayout, flags) == 10);
    assert!(offset_of!(RegistryLayout, exec_time_ms) == 14);
    assert!(offset_of!(RegistryLayout, memory_mb) == 18);
    assert!(offset_of!(RegistryLayout, output_kb) == 20);
    assert!(offset_of!(RegistryLayout, checksum) == 22);
    assert!(super::crc::CHECKED_LEN == 22);
    assert!(size_of::<DescriptorRepr>() <= 20);
    assert!(size_of::<DecodeError>() <= 8);
};

/// Which of the three upstream descriptor layouts a descriptor is (also used as the caller's hint).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum Flavour {
    /// Spec layout: u16 performance fields, command length, CRC-32-low-16 checksum.
    Spec = 0,
    /// Registry layout: u32 execution time, CRC-32-low-16 checksum.
    Registry = 1,
    /// Knowledge-base layout: registry layout, byte-sum checksum, knowledge-base flag map.
    KnowledgeBase = 2,
}

impl Flavour {
    /// Stable lower-case name: `spec`, `registry`, `knowledge-base`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Flavour::Spec => "spec",
            Flavour::Registry => "registry",
            Flavour::KnowledgeBase => "knowledge-base",
        }
    }

    /// Parses [`Flavour::as_str`]'s spelling (also `kb`).
    pub fn parse(s: &str) -> Option<Flavour> {
        match s {
            "spec" => Some(Flavour::Spec),
            "registry" => Some(Flavour::Registry),
            "knowledge-base" | "kb" => Some(Flavour::KnowledgeBase),
            _ => None,
        }
    }
}

impl fmt::Display for Flavour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a descriptor was refused. Checked in this order: length, magic, version, checksum, flags.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The buffer is not [`DESCRIPTOR_LEN`] bytes long (the view accepts longer buffers; [`decode`]
    /// wants exactly 24). Carries the length, saturated at `u32::MAX`.
    Length(u32),
    /// Bytes 0..4 are not `"TCP\x02"`.
    BadMagic([u8; 4]),
    /// The version at offset 4 is not 2.
    BadVersion(u16),
    /// Neither the CRC nor the byte sum matches the stored checksum.
    Checksum {
        /// The checksum stored at offset 22.
        stored: u16,
        /// Low 16 bits of CRC-32 over bytes 0..22.
        crc16: u16,
        /// Byte sum of bytes 0..22 mod 65536.
        byte_sum: u16,
    },
    /// A knowledge-base descriptor sets flag bits the knowledge-base map does not define (5..7, 14..16).
    UnmappedFlags(UnmappedBits),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Length(n) => {
                write!(f, "descriptor must be {DESCRIPTOR_LEN} bytes, got {n}")
            }
            DecodeError::BadMagic(m) => write!(
                f,
                "bad magic {:02x}{:02x}{:02x}{:02x} (want 54435002, \"TCP\\x02\")",
                m[0], m[1], m[2], m[3]
            ),
            DecodeError::BadVersion(v) => write!(f, "unsupported version {v} (want {VERSION})"),
            DecodeError::Checksum { stored, crc16, byte_sum } => write!(
                f,
                "checksum mismatch: stored {stored:#06x}, CRC-32 low 16 {crc16:#06x}, byte sum {byte_sum:#06x}"
            ),
            DecodeError::UnmappedFlags(b) => write!(f, "knowledge-base descriptor: {b}"),
        }
    }
}

impl core::error::Error for DecodeError {}

/// Why a [`DescriptorRepr`] cannot be written in the requested layout. Nothing is written on error.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EmitError {
    /// The spec layout stores execution time as u16 ms; this value (ms) does not fit. tcap refuses
    /// rather than saturate, because a saturated value would still verify and silently lie.
    ExecTimeOverflow(u32),
    /// The knowledge-base map has no bit for these canonical flags.
    UnmappedFlags(UnmappedBits),
}

impl fmt::Display for EmitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EmitError::ExecTimeOverflow(ms) => {
                write!(f, "execution time {ms} ms does not fit the spec layout's u16")
            }
            EmitError::UnmappedFlags(b) => write!(f, "cannot emit knowledge-base flags: {b}"),
        }
    }
}

impl core::error::Error for EmitError {}

/// A descriptor in canonical form, whatever flavour it came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DescriptorRepr {
    /// `MD5(command)[0..4]`, big-endian.
    pub command_id: u32,
    /// Security flags in the canonical map (knowledge-base flags are normalised).
    pub flags: Flags,
    /// Typical execution time, ms (u16 in the spec layout, u32 in the others).
    pub exec_time_ms: u32,
    /// Typical memory, MB.
    pub memory_mb: u16,
    /// Typical output, KB.
    pub output_kb: u16,
    /// Length of the command string; only the spec layout carries it.
    pub command_len: Option<u16>,
}

/// The result of [`decode`]: the canonical value and the flavour it was read as.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Decoded {
    /// The canonical value.
    pub repr: DescriptorRepr,
    /// The layout the bytes were read as.
    pub flavour: Flavour,
}

impl Decoded {
    /// Risk level (highest risk bit, `Unknown` if none).
    pub const fn risk(&self) -> Risk {
        self.repr.flags.risk()
    }
    /// Number of risk bits set; more than one is legal and worth reporting.
    pub const fn risk_bit_count(&self) -> u32 {
        self.repr.flags.risk_bit_count()
    }
}

/// A zero-copy view of a descriptor over any byte buffer.
///
/// [`Descriptor::new_checked`] guarantees the buffer holds at least 24 bytes (only the first 24 are
/// read). A view made with [`Descriptor::new_unchecked`] over a shorter buffer never panics either: its
/// accessors read it as 24 zero bytes, and [`Descriptor::verify`] reports [`DecodeError::Length`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Descriptor<T: AsRef<[u8]>> {
    buffer: T,
}

static ZERO_DESCRIPTOR: [u8; DESCRIPTOR_LEN] = [0; DESCRIPTOR_LEN];

impl<T: AsRef<[u8]>> Descriptor<T> {
    /// Wraps `buffer` without checking its length.
    pub const fn new_unchecked(buffer: T) -> Self {
        Descriptor { buffer }
    }

    /// Wraps `buffer` after [`Descriptor::check_len`].
    pub fn new_checked(buffer: T) -> Result<Self, DecodeError> {
        let d = Self::new_unchecked(buffer);
        d.check_len()?;
        Ok(d)
    }

    /// `Err(Length)` unless the buffer holds at least [`DESCRIPTOR_LEN`] bytes.
    pub fn check_len(&self) -> Result<(), DecodeError> {
        let n = self.buffer.as_ref().len();
        if n < DESCRIPTOR_LEN { Err(DecodeError::Length(n as u32)) } else { Ok(()) }
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// The first 24 bytes (all zeros if an unchecked view is too short).
    pub fn bytes(&self) -> &[u8; DESCRIPTOR_LEN] {
        self.buffer.as_ref().first_chunk().unwrap_or(&ZERO_DESCRIPTOR)
    }

    /// The bytes read as the spec layout.
    pub fn spec(&self) -> &SpecLayout {
        zerocopy::transmute_ref!(self.bytes())
    }

    /// The bytes read as the registry / knowledge-base layout.
    pub fn registry(&self) -> &RegistryLayout {
        zerocopy::transmute_ref!(self.bytes())
    }

    /// Offset 0: magic.
    pub fn magic(&self) -> [u8; 4] {
        self.spec().magic
    }
    /// Offset 4: version.
    pub fn version(&self) -> u16 {
        self.spec().version.get()
    }
    /// Offset 6: command id.
    pub fn command_id(&self) -> u32 {
        self.spec().command_id.get()
    }
    /// Offset 10: flags as stored (map depends on the flavour).
    pub fn wire_flags(&self) -> u32 {
        self.spec().flags.get()
    }
    /// Offset 22: stored checksum.
    pub fn checksum(&self) -> u16 {
        self.spec().checksum.get()
    }
    /// Low 16 bits of CRC-32 over bytes 0..22, computed.
    pub fn crc16(&self) -> u16 {
        descriptor_crc16(self.bytes())
    }
    /// Byte sum of bytes 0..22 mod 65536, computed.
    pub fn byte_sum(&self) -> u16 {
        descriptor_byte_sum(self.bytes())
    }

    /// Checks length, magic, version and checksum and says which flavour the bytes are (see the module
    /// docs for how `hint` is used). Does not look at the flags.
    pub fn verify(&self, hint: Option<Flavour>) -> Result<Flavour, DecodeError> {
        self.check_len()?;
        verify_array(self.bytes(), hint)
    }

    /// A report of everything about the bytes, valid or not (for `tcapd decode` and diagnostics).
    pub fn inspect(&self, hint: Option<Flavour>) -> Inspection {
        let d = self.bytes();
        Inspection {
            magic: self.magic(),
            version: self.version(),
            command_id: self.command_id(),
            wire_flags: self.wire_flags(),
            stored_checksum: self.checksum(),
            crc16: descriptor_crc16(d),
            byte_sum: descriptor_byte_sum(d),
            result: self.check_len().and_then(|()| decode_array(d, hint)),
        }
    }
}

impl<T: AsRef<[u8]>> AsRef<[u8]> for Descriptor<T> {
    fn as_ref(&self) -> &[u8] {
        self.buffer.as_ref()
    }
}

/// Everything about 24 bytes, whether or not they decode; see [`Descriptor::inspect`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Inspection {
    /// Bytes 0..4.
    pub magic: [u8; 4],
    /// Offset 4.
    pub version: u16,
    /// Offset 6.
    pub command_id: u32,
    /// Offset 10, as stored.
    pub wire_flags: u32,
    /// Offset 22.
    pub stored_checksum: u16,
    /// Computed low 16 bits of CRC-32 over 0..22.
    pub crc16: u16,
    /// Computed byte sum of 0..22 mod 65536.
    pub byte_sum: u16,
    /// The decode result.
    pub result: Result<Decoded, DecodeError>,
}

impl Inspection {
    /// Whether the stored checksum equals the CRC.
    pub const fn crc_ok(&self) -> bool {
        self.crc16 == self.stored_checksum
    }
    /// Whether the stored checksum equals the byte sum.
    pub const fn sum_ok(&self) -> bool {
        self.byte_sum == self.stored_checksum
    }
    /// Whether both checksums match (the hint, or `Spec`, decided the flavour).
    pub const fn ambiguous(&self) -> bool {
        self.crc_ok() && self.sum_ok()
    }
}

impl fmt::Display for Inspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ok = |b: bool| if b { "ok" } else { "mismatch" };
        writeln!(f, "command id   {:#010x}", self.command_id)?;
        writeln!(f, "wire flags   {:#010x}", self.wire_flags)?;
        writeln!(
            f,
            "checksum     stored {:#06x}; crc16 {:#06x} {}; byte sum {:#06x} {}",
            self.stored_checksum,
            self.crc16,
            ok(self.crc_ok()),
            self.byte_sum,
            ok(self.sum_ok())
        )?;
        match &self.result {
            Ok(d) => {
                writeln!(
                    f,
                    "flavour      {}{}",
                    d.flavour,
                    if self.ambiguous() { " (both checksums match)" } else { "" }
                )?;
                writeln!(f, "flags        {}", d.repr.flags)?;
                writeln!(f, "risk         {} ({} risk bit(s) set)", d.risk(), d.risk_bit_count())?;
                write!(
                    f,
                    "perf         exec {} ms, memory {} MB, output {} KB",
                    d.repr.exec_time_ms, d.repr.memory_mb, d.repr.output_kb
                )?;
                if let Some(n) = d.repr.command_len {
                    write!(f, ", command length {n}")?;
                }
                Ok(())
            }
            Err(e) => write!(f, "error        {e}"),
        }
    }
}

/// Magic, version and checksum of a full descriptor; the flavour it is.
///
/// The common path: one 6-byte compare for magic and version, then only the checksum(s) the answer
/// depends on (measured: computing both unconditionally costs ~20 more instructions per descriptor
/// than the well-predicted branch between them saves). Errors are built out of line.
#[inline]
fn verify_array(d: &[u8; DESCRIPTOR_LEN], hint: Option<Flavour>) -> Result<Flavour, DecodeError> {
    let head = u64::from_le_bytes([d[0], d[1], d[2], d[3], d[4], d[5], 0, 0]);
    const WANT: u64 =
        u64::from_le_bytes([HEADER[0], HEADER[1], HEADER[2], HEADER[3], HEADER[4], HEADER[5], 0, 0]);
    if head != WANT {
        return Err(header_error(d));
    }
    let stored = u16::from_be_bytes([d[22], d[23]]);
    let crc_ok = || cfg!(fuzzing) || descriptor_crc16_after_header(d) == stored;
    let sum_ok = || cfg!(fuzzing) || descriptor_byte_sum_after_header(d) == stored;
    // Same decision table as the module docs; each checksum is computed only when the answer depends
    // on it. With a knowledge-base hint, a matching byte sum settles it (KB wins either way) and the
    // CRC is never computed; otherwise a matching CRC settles it and the byte sum is skipped.
    if hint == Some(Flavour::KnowledgeBase) {
        if sum_ok() {
            Ok(Flavour::KnowledgeBase)
        } else if crc_ok() {
            Ok(Flavour::Spec)
        } else {
            Err(checksum_error(d, stored))
        }
    } else if crc_ok() {
        Ok(if hint == Some(Flavour::Registry) { Flavour::Registry } else { Flavour::Spec })
    } else if sum_ok() {
        Ok(Flavour::KnowledgeBase)
    } else {
        Err(checksum_error(d, stored))
    }
}

/// The error for bytes 0..6 that are not magic + version 2.
#[cold]
#[inline(never)]
fn header_error(d: &[u8; DESCRIPTOR_LEN]) -> DecodeError {
    let magic = [d[0], d[1], d[2], d[3]];
    if magic != MAGIC {
        DecodeError::BadMagic(magic)
    } else {
        DecodeError::BadVersion(u16::from_be_bytes([d[4], d[5]]))
    }
}

/// The error for a descriptor neither checksum verifies.
#[cold]
#[inline(never)]
fn checksum_error(d: &[u8; DESCRIPTOR_LEN], stored: u16) -> DecodeError {
    DecodeError::Checksum {
        stored,
        crc16: descriptor_crc16_after_header(d),
        byte_sum: descriptor_byte_sum(d),
    }
}

/// [`decode`] for a descriptor already known to be 24 bytes.
#[inline]
pub fn decode_array(d: &[u8; DESCRIPTOR_LEN], hint: Option<Flavour>) -> Result<Decoded, DecodeError> {
    let flavour = verify_array(d, hint)?;
    let repr = read_fields(d, flavour)?;
    Ok(Decoded { repr, flavour })
}

/// Decodes and verifies a 24-byte descriptor of any flavour: the hot path.
///
/// ```
/// use tcap_core::wire::{decode, Flavour, Risk};
/// let kb_rm = [0x54, 0x43, 0x50, 0x02, 0x00, 0x02, 0xd6, 0x7f, 0x24, 0x9b, 0x00, 0x00, 0x17, 0x04,
///              0x00, 0x00, 0x00, 0x64, 0x00, 0x0a, 0x00, 0x01, 0x03, 0x89];
/// let d = decode(&kb_rm, None).unwrap();
/// assert_eq!(d.flavour, Flavour::KnowledgeBase);
/// assert_eq!(d.repr.command_id, tcap_core::wire::command_id(b"rm"));
/// assert_eq!(d.risk(), Risk::Medium);
/// ```
#[inline]
pub fn decode(bytes: &[u8], hint: Option<Flavour>) -> Result<Decoded, DecodeError> {
    match bytes.try_into() {
        Ok(d) => decode_array(d, hint),
        Err(_) => Err(DecodeError::Length(u32::try_from(bytes.len()).unwrap_or(u32::MAX))),
    }
}

/// Canonical capability bits for each combination of the six knowledge-base capability bits (8..13),
/// built from [`KbFlags::to_canonical`] at compile time: one load instead of six bit moves.
static KB_CAPS: [u32; 64] = {
    let mut t = [0u32; 64];
    let mut i = 0;
    while i < 64 {
        t[i] = match KbFlags((i as u32) << 8).to_canonical() {
            Ok(f) => f.0,
            Err(_) => panic!("every KB capability combination maps"),
        };
        i += 1;
    }
    t
};

/// [`KbFlags::to_canonical`] by table (identical results; tested exhaustively on bits 0..17).
#[inline]
fn kb_to_canonical(w: u32) -> Result<Flags, UnmappedBits> {
    const KEEP: u32 = Flags::RISK_MASK | KbFlags::VENDOR_MASK;
    let rest = w & !(KEEP | 0x3f00);
    if rest != 0 {
        return Err(UnmappedBits(rest));
    }
    Ok(Flags((w & KEEP) | KB_CAPS[((w >> 8) & 0x3f) as usize]))
}

/// Reads the fields of a verified descriptor in the given flavour.
#[inline]
fn read_fields(d: &[u8; DESCRIPTOR_LEN], flavour: Flavour) -> Result<DescriptorRepr, DecodeError> {
    match flavour {
        Flavour::Spec => {
            let s: &SpecLayout = zerocopy::transmute_ref!(d);
            Ok(DescriptorRepr {
                command_id: s.command_id.get(),
                flags: Flags(s.flags.get()),
                exec_time_ms: s.exec_time_ms.get() as u32,
                memory_mb: s.memory_mb.get(),
                output_kb: s.output_kb.get(),
                command_len: Some(s.command_len.get()),
            })
        }
        Flavour::Registry | Flavour::KnowledgeBase => {
            let r: &RegistryLayout = zerocopy::transmute_ref!(d);
            let flags = if flavour == Flavour::KnowledgeBase {
                kb_to_canonical(r.flags.get()).map_err(DecodeError::UnmappedFlags)?
            } else {
                Flags(r.flags.get())
            };
            Ok(DescriptorRepr {
                command_id: r.command_id.get(),
                flags,
                exec_time_ms: r.exec_time_ms.get(),
                memory_mb: r.memory_mb.get(),
                output_kb: r.output_kb.get(),
                command_len: None,
            })
        }
    }
}

impl DescriptorRepr {
    /// Verifies `d` (see [`Descriptor::verify`]) and reads it into canonical form.
    pub fn parse<T: AsRef<[u8]>>(
        d: &Descriptor<T>,
        hint: Option<Flavour>,
    ) -> Result<(DescriptorRepr, Flavour), DecodeError> {
        d.check_len()?;
        let out = decode_array(d.bytes(), hint)?;
        Ok((out.repr, out.flavour))
    }

    /// Writes the canonical spec layout with its CRC checksum. `command_len: None` is written as 0
    /// (a real command is never empty, so 0 unambiguously means "not known"). An execution time above
    /// 65,535 ms is [`EmitError::ExecTimeOverflow`]; `buf` is untouched on error.
    pub fn emit(&self, buf: &mut [u8; DESCRIPTOR_LEN]) -> Result<(), EmitError> {
        self.emit_as(Flavour::Spec, buf)
    }

    /// Writes the given layout with its checksum. Registry and knowledge-base layouts do not carry
    /// `command_len` (it is dropped); knowledge-base flags go through [`Flags::to_kb`], and canonical
    /// bits without a knowledge-base home are [`EmitError::UnmappedFlags`]. `buf` is untouched on error.
    pub fn emit_as(&self, flavour: Flavour, buf: &mut [u8; DESCRIPTOR_LEN]) -> Result<(), EmitError> {
        let mut out: [u8; DESCRIPTOR_LEN] = match flavour {
            Flavour::Spec => {
                let exec = u16::try_from(self.exec_time_ms)
                    .map_err(|_| EmitError::ExecTimeOverflow(self.exec_time_ms))?;
                zerocopy::transmute!(SpecLayout {
                    magic: MAGIC,
                    version: U16::new(VERSION),
                    command_id: U32::new(self.command_id),
                    flags: U32::new(self.flags.0),
                    exec_time_ms: U16::new(exec),
                    memory_mb: U16::new(self.memory_mb),
                    output_kb: U16::new(self.output_kb),
                    command_len: U16::new(self.command_len.unwrap_or(0)),
                    checksum: U16::ZERO,
                })
            }
            Flavour::Registry | Flavour::KnowledgeBase => {
                let flags = if flavour == Flavour::KnowledgeBase {
                    self.flags.to_kb().map_err(EmitError::UnmappedFlags)?.0
                } else {
                    self.flags.0
                };
                zerocopy::transmute!(RegistryLayout {
                    magic: MAGIC,
                    version: U16::new(VERSION),
                    command_id: U32::new(self.command_id),
                    flags: U32::new(flags),
                    exec_time_ms: U32::new(self.exec_time_ms),
                    memory_mb: U16::new(self.memory_mb),
                    output_kb: U16::new(self.output_kb),
                    checksum: U16::ZERO,
                })
            }
        };
        let sum = match flavour {
            Flavour::KnowledgeBase => descriptor_byte_sum(&out),
            _ => descriptor_crc16(&out),
        };
        out[22..].copy_from_slice(&sum.to_be_bytes());
        *buf = out;
        Ok(())
    }

    /// [`DescriptorRepr::emit_as`] into a fresh array.
    pub fn to_bytes(&self, flavour: Flavour) -> Result<[u8; DESCRIPTOR_LEN], EmitError> {
        let mut b = [0u8; DESCRIPTOR_LEN];
        self.emit_as(flavour, &mut b)?;
        Ok(b)
    }

    /// Risk level (highest risk bit, `Unknown` if none).
    pub const fn risk(&self) -> Risk {
        self.flags.risk()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{command_id, crc::crc32_bitwise};
    use super::*;
    use proptest::prelude::*;

    /// Hex to a 24-byte array (test helper).
    fn hex(s: &str) -> [u8; 24] {
        let mut out = [0u8; 24];
        assert_eq!(s.len(), 48);
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
        }
        out
    }

    // Real upstream bytes (docs/FORMAT.md walks through each).
    const SPEC_RM: &str = "544350020002d67f249b000006d0271003e800320002ef04";
    const SPEC_CAT: &str = "544350020002d077f2440000000201f40032001a00032048";
    const KB_RM: &str = "544350020002d67f249b0000170400000064000a00010389";
    const KB_LS: &str = "54435002000244ba5ca60000050100000064000a00010360";
    const KB_BANG: &str = "5443500200029033e0e30000040100000064000a000103e5";
    /// Spec rm's values in the registry layout; checksum computed independently with Python's zlib.
    const REG_RM: &str = "544350020002d67f249b000006d00000271003e800326b9d";

    #[test]
    fn spec_rm() {
        let d = decode(&hex(SPEC_RM), None).unwrap();
        assert_eq!(d.flavour, Flavour::Spec);
        assert_eq!(
            d.repr,
            DescriptorRepr {
                command_id: command_id(b"rm"),
                flags: Flags(0x6d0),
                exec_time_ms: 10_000,
                memory_mb: 1000,
                output_kb: 50,
                command_len: Some(2),
            }
        );
        assert_eq!(d.risk(), Risk::Critical);
        assert!(d.repr.flags.contains(Flags::DESTRUCTIVE));
        assert!(d.repr.flags.contains(Flags::REQUIRES_ROOT));
        assert!(d.repr.flags.contains(Flags::FILE_MODIFICATION));
        assert!(d.repr.flags.contains(Flags::SYSTEM_MODIFICATION));
    }

    #[test]
    fn spec_cat() {
        let d = decode(&hex(SPEC_CAT), None).unwrap();
        assert_eq!(d.flavour, Flavour::Spec);
        assert_eq!(d.repr.command_id, command_id(b"cat"));
        assert_eq!(d.repr.flags, Flags::LOW_RISK);
        assert_eq!((d.repr.exec_time_ms, d.repr.memory_mb, d.repr.output_kb), (500, 50, 26));
        assert_eq!(d.repr.command_len, Some(3));
        assert_eq!(d.risk(), Risk::Low);
    }

    #[test]
    fn spec_bytes_as_registry_with_hint() {
        let d = decode(&hex(SPEC_RM), Some(Flavour::Registry)).unwrap();
        assert_eq!(d.flavour, Flavour::Registry);
        assert_eq!(d.repr.exec_time_ms, 0x2710_03e8);
        assert_eq!((d.repr.memory_mb, d.repr.output_kb), (0x32, 0x02));
        assert_eq!(d.repr.command_len, None);
        // A knowledge-base hint is not a candidate for CRC-only bytes.
        assert_eq!(decode(&hex(SPEC_RM), Some(Flavour::KnowledgeBase)).unwrap().flavour, Flavour::Spec);
    }

    #[test]
    fn registry_rm() {
        let b = hex(REG_RM);
        let d = decode(&b, Some(Flavour::Registry)).unwrap();
        assert_eq!(d.flavour, Flavour::Registry);
        assert_eq!(
            d.repr,
            DescriptorRepr {
                command_id: command_id(b"rm"),
                flags: Flags(0x6d0),
                exec_time_ms: 10_000,
                memory_mb: 1000,
                output_kb: 50,
                command_len: None,
            }
        );
        assert_eq!(d.repr.to_bytes(Flavour::Registry).unwrap(), b);
        // Without the hint the same bytes read as the spec layout (the CRC cannot tell them apart).
        let s = decode(&b, None).unwrap();
        assert_eq!(s.flavour, Flavour::Spec);
        assert_eq!((s.repr.exec_time_ms, s.repr.memory_mb, s.repr.output_kb), (0, 10_000, 1000));
        assert_eq!(s.repr.command_len, Some(50));
    }

    #[test]
    fn kb_fixtures() {
        for (s, name, kb_flags) in
            [(KB_RM, &b"rm"[..], 0x1704), (KB_LS, b"ls", 0x0501), (KB_BANG, b"!", 0x0401)]
        {
            for hint in [None, Some(Flavour::Spec), Some(Flavour::Registry), Some(Flavour::KnowledgeBase)] {
                let d = decode(&hex(s), hint).unwrap();
                assert_eq!(d.flavour, Flavour::KnowledgeBase);
                assert_eq!(d.repr.command_id, command_id(name));
                assert_eq!(d.repr.flags, KbFlags(kb_flags).to_canonical().unwrap());
                assert_eq!((d.repr.exec_time_ms, d.repr.memory_mb, d.repr.output_kb), (100, 10, 1));
                assert_eq!(d.repr.command_len, None);
            }
        }
        let ls = decode(&hex(KB_LS), None).unwrap();
        assert_eq!(ls.risk(), Risk::Safe);
        assert!(ls.repr.flags.contains(Flags::REQUIRES_SUDO));
        assert!(ls.repr.flags.contains(Flags::FILE_MODIFICATION));
        let rm = decode(&hex(KB_RM), None).unwrap();
        assert_eq!(rm.risk(), Risk::Medium);
        assert!(rm.repr.flags.contains(Flags::SYSTEM_MODIFICATION));
    }

    #[test]
    fn view_accessors() {
        let b = hex(SPEC_RM);
        let v = Descriptor::new_checked(&b[..]).unwrap();
        assert_eq!(v.magic(), MAGIC);
        assert_eq!(v.version(), 2);
        assert_eq!(v.command_id(), 0xd67f_249b);
        assert_eq!(v.wire_flags(), 0x6d0);
        assert_eq!(v.checksum(), 0xef04);
        assert_eq!(v.crc16(), 0xef04);
        assert_eq!(v.spec().exec_time_ms.get(), 10_000);
        assert_eq!(v.registry().exec_time_ms.get(), 0x2710_03e8);
        assert_eq!(v.verify(None), Ok(Flavour::Spec));
        let (repr, fl) = DescriptorRepr::parse(&v, None).unwrap();
        assert_eq!((repr.command_len, fl), (Some(2), Flavour::Spec));
        // A longer buffer is fine for the view; only the first 24 bytes count.
        let mut long = [0u8; 30];
        long[..24].copy_from_slice(&b);
        assert_eq!(
            DescriptorRepr::parse(&Descriptor::new_checked(&long[..]).unwrap(), None).unwrap().0,
            repr
        );
        assert_eq!(Descriptor::new_checked(&long[..]).unwrap().into_inner().len(), 30);
    }

    #[test]
    fn short_unchecked_view_does_not_panic() {
        let b = [0x54u8, 0x43];
        let v = Descriptor::new_unchecked(&b[..]);
        assert_eq!(v.command_id(), 0);
        assert_eq!(v.verify(None), Err(DecodeError::Length(2)));
        assert_eq!(DescriptorRepr::parse(&v, None), Err(DecodeError::Length(2)));
        assert_eq!(v.inspect(None).result, Err(DecodeError::Length(2)));
        assert_eq!(Descriptor::new_checked(&b[..]).err(), Some(DecodeError::Length(2)));
    }

    #[test]
    fn error_paths() {
        let good = hex(SPEC_CAT);
        assert_eq!(decode(&good[..23], None), Err(DecodeError::Length(23)));
        assert_eq!(decode(&[], None), Err(DecodeError::Length(0)));
        let mut long = [0u8; 25];
        long[..24].copy_from_slice(&good);
        assert_eq!(decode(&long, None), Err(DecodeError::Length(25)));

        let mut m = good;
        m[3] = 0x01;
        assert_eq!(decode(&m, None), Err(DecodeError::BadMagic(*b"TCP\x01")));
        let mut v = good;
        v[5] = 3;
        assert_eq!(decode(&v, None), Err(DecodeError::BadVersion(3)));

        let mut c = good;
        c[22] ^= 0x80;
        let e = decode(&c, None).unwrap_err();
        assert_eq!(
            e,
            DecodeError::Checksum { stored: 0xa048, crc16: 0x2048, byte_sum: descriptor_byte_sum(&c) }
        );
        // The error carries both computed checksums whatever the hint.
        for hint in [Some(Flavour::KnowledgeBase), Some(Flavour::Registry), Some(Flavour::Spec)] {
            assert_eq!(decode(&c, hint), Err(e));
        }
        // Any single-bit flip in the checked span breaks the checksum.
        for byte in 6..22 {
            for bit in 0..8 {
                let mut f = good;
                f[byte] ^= 1 << bit;
                assert!(matches!(decode(&f, None), Err(DecodeError::Checksum { .. })));
            }
        }
    }

    #[test]
    fn kb_unmapped_flags() {
        // KB descriptor with bit 5 (undefined in the KB map) set, byte-sum checksum fixed up.
        let mut b = hex(KB_LS);
        b[13] |= 0x20;
        let s = descriptor_byte_sum(&b);
        b[22..].copy_from_slice(&s.to_be_bytes());
        assert_eq!(decode(&b, None), Err(DecodeError::UnmappedFlags(UnmappedBits(0x20))));
        // The same flag word is fine as a spec map: bit 5 is REQUIRES_SUDO there.
        let crc = crc32_bitwise(&b[..22]) as u16;
        b[22..].copy_from_slice(&crc.to_be_bytes());
        assert_eq!(decode(&b, None).unwrap().repr.flags.0, 0x0521);
    }

    #[test]
    fn several_risk_bits_visible() {
        let repr = DescriptorRepr {
            command_id: command_id(b"kill"),
            flags: Flags(0b1_1010),
            exec_time_ms: 100,
            memory_mb: 10,
            output_kb: 1,
            command_len: Some(4),
        };
        let b = repr.to_bytes(Flavour::Spec).unwrap();
        let d = decode(&b, None).unwrap();
        assert_eq!(d.risk(), Risk::Critical);
        assert_eq!(d.risk_bit_count(), 3);
        let ins = Descriptor::new_checked(&b).unwrap().inspect(None);
        assert_eq!(ins.result, Ok(d));
        assert!(ins.crc_ok());
    }

    /// Finds a descriptor whose CRC and byte sum coincide by varying the command id.
    fn both_checksums() -> [u8; 24] {
        let mut b = hex(SPEC_CAT);
        for id in 0u32.. {
            b[6..10].copy_from_slice(&id.to_be_bytes());
            if descriptor_crc16(&b) == descriptor_byte_sum(&b) {
                let c = descriptor_crc16(&b);
                b[22..].copy_from_slice(&c.to_be_bytes());
                return b;
            }
        }
        unreachable!()
    }

    #[test]
    fn both_checksums_hint_decides() {
        let b = both_checksums();
        let ins = Descriptor::new_checked(&b).unwrap().inspect(None);
        assert!(ins.ambiguous());
        assert_eq!(decode(&b, None).unwrap().flavour, Flavour::Spec);
        for f in [Flavour::Spec, Flavour::Registry, Flavour::KnowledgeBase] {
            assert_eq!(decode(&b, Some(f)).unwrap().flavour, f);
        }
    }

    #[test]
    fn emit_round_trips_fixtures() {
        for (s, f) in [
            (SPEC_RM, Flavour::Spec),
            (SPEC_CAT, Flavour::Spec),
            (KB_RM, Flavour::KnowledgeBase),
            (KB_LS, Flavour::KnowledgeBase),
            (KB_BANG, Flavour::KnowledgeBase),
        ] {
            let b = hex(s);
            let d = decode(&b, None).unwrap();
            assert_eq!(d.repr.to_bytes(f).unwrap(), b, "{s}");
        }
        // KB rm re-emitted in the canonical spec layout decodes to the same value (plus a length).
        let kb = decode(&hex(KB_RM), None).unwrap().repr;
        let spec = DescriptorRepr { command_len: Some(2), ..kb };
        let back = decode(&spec.to_bytes(Flavour::Spec).unwrap(), None).unwrap();
        assert_eq!((back.repr, back.flavour), (spec, Flavour::Spec));
        let mut buf = [0u8; 24];
        kb.emit(&mut buf).unwrap();
        assert_eq!(&buf[20..22], &[0, 0]); // command_len None is written as 0
    }

    #[test]
    fn emit_errors_leave_buffer_untouched() {
        let mut repr = decode(&hex(KB_RM), None).unwrap().repr;
        repr.exec_time_ms = 70_000;
        let mut buf = [0xaau8; 24];
        assert_eq!(repr.emit(&mut buf), Err(EmitError::ExecTimeOverflow(70_000)));
        assert_eq!(buf, [0xaa; 24]);
        let reg = repr.to_bytes(Flavour::Registry).unwrap();
        assert_eq!(decode(&reg, Some(Flavour::Registry)).unwrap().repr, repr);

        repr.flags = repr.flags.union(Flags::KERNEL_MODULE);
        assert_eq!(
            repr.emit_as(Flavour::KnowledgeBase, &mut buf),
            Err(EmitError::UnmappedFlags(UnmappedBits(Flags::KERNEL_MODULE.0)))
        );
        assert_eq!(buf, [0xaa; 24]);
    }

    #[test]
    fn kb_table_matches_to_canonical() {
        for w in 0..(1u32 << 18) {
            for hi in [0, 0x8000_0000, 0xfffe_0000] {
                assert_eq!(kb_to_canonical(w | hi), KbFlags(w | hi).to_canonical(), "{w:#x}");
            }
        }
    }

    #[test]
    fn flavour_names() {
        for f in [Flavour::Spec, Flavour::Registry, Flavour::KnowledgeBase] {
            assert_eq!(Flavour::parse(f.as_str()), Some(f));
        }
        assert_eq!(Flavour::parse("kb"), Some(Flavour::KnowledgeBase));
        assert_eq!(Flavour::parse("x"), None);
    }

    fn arb_repr() -> impl Strategy<Value = DescriptorRepr> {
        (any::<u32>(), any::<u32>(), any::<u32>(), any::<u16>(), any::<u16>(), any::<Option<u16>>()).prop_map(
            |(id, fl, ex, mem, out, cl)| DescriptorRepr {
                command_id: id,
                flags: Flags(fl),
                exec_time_ms: ex,
                memory_mb: mem,
                output_kb: out,
                command_len: cl,
            },
        )
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..40), h in 0u8..4) {
            let hint = [None, Some(Flavour::Spec), Some(Flavour::Registry), Some(Flavour::KnowledgeBase)][h as usize];
            let r = decode(&b, hint);
            if b.len() != 24 { prop_assert_eq!(r, Err(DecodeError::Length(b.len() as u32))); }
            let v = Descriptor::new_unchecked(&b[..]);
            let _ = (v.command_id(), v.crc16(), v.byte_sum(), v.verify(hint), v.inspect(hint));
        }

        #[test]
        fn arbitrary_headered_bytes_never_panic(tail in any::<[u8; 18]>()) {
            let mut b = [0u8; 24];
            b[..6].copy_from_slice(&HEADER);
            b[6..].copy_from_slice(&tail);
            if let Ok(d) = decode(&b, None) {
                // Whatever decodes re-emits to the same bytes in its own flavour.
                let kept = DescriptorRepr { command_len: d.repr.command_len, ..d.repr };
                prop_assert_eq!(kept.to_bytes(d.flavour).unwrap(), b);
            }
        }

        #[test]
        fn emit_parse_round_trip(repr in arb_repr()) {
            // Spec: exact when exec fits u16 and command_len is known.
            let spec = DescriptorRepr { exec_time_ms: repr.exec_time_ms & 0xffff, command_len: Some(repr.command_len.unwrap_or(1)), ..repr };
            let d = decode(&spec.to_bytes(Flavour::Spec).unwrap(), None).unwrap();
            prop_assert_eq!(d.repr, spec);
            // Registry: exact apart from command_len.
            let reg = DescriptorRepr { command_len: None, ..repr };
            let d = decode(&reg.to_bytes(Flavour::Registry).unwrap(), Some(Flavour::Registry)).unwrap();
            prop_assert!(d.flavour == Flavour::Registry);
            prop_assert_eq!(d.repr, reg);
            // Knowledge base: exact whenever the flags have a KB home.
            if let Ok(b) = reg.to_bytes(Flavour::KnowledgeBase) {
                let d = decode(&b, Some(Flavour::KnowledgeBase)).unwrap();
                prop_assert_eq!(d.flavour, Flavour::KnowledgeBase);
                prop_assert_eq!(d.repr, reg);
            }
        }
    }
}
