//! Security flags (the `u32` at descriptor offset 10) and the risk level derived from them.
//!
//! Two flag maps exist upstream. [`Flags`] is the canonical (spec) map that tcap uses everywhere;
//! [`KbFlags`] is the knowledge-base map found in every entry of the real corpus, which
//! [`KbFlags::to_canonical`] normalises without losing a bit.

use core::fmt;

/// Risk level of a command: the highest risk bit set among bits 0..4, or [`Risk::Unknown`] if none is.
///
/// `Unknown` is deliberately *not* `Safe`: tcap fails closed. The numeric values are frozen (they appear
/// in records, snapshots and the C ABI) and order the known levels from least to most dangerous.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum Risk {
    /// Read-only, no security implications (bit 0).
    Safe = 0,
    /// Information gathering (bit 1).
    Low = 1,
    /// Modifies files or reaches the network (bit 2).
    Medium = 2,
    /// System modification or privilege (bit 3).
    High = 3,
    /// Can destroy data or systems irreversibly (bit 4).
    Critical = 4,
    /// No risk bit set, or the command is not known.
    Unknown = 5,
}

impl Risk {
    /// Number of distinct risk values (the size of a policy row).
    pub const COUNT: usize = 6;
    /// All values, in numeric order.
    pub const ALL: [Risk; 6] =
        [Risk::Safe, Risk::Low, Risk::Medium, Risk::High, Risk::Critical, Risk::Unknown];

    /// The value for a numeric code, or `None` if the code is not a risk level.
    pub const fn from_u8(v: u8) -> Option<Risk> {
        match v {
            0 => Some(Risk::Safe),
            1 => Some(Risk::Low),
            2 => Some(Risk::Medium),
            3 => Some(Risk::High),
            4 => Some(Risk::Critical),
            5 => Some(Risk::Unknown),
            _ => None,
        }
    }

    /// Upstream's spelling: `SAFE`, `LOW_RISK`, `MEDIUM_RISK`, `HIGH_RISK`, `CRITICAL`, `UNKNOWN`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Risk::Safe => "SAFE",
            Risk::Low => "LOW_RISK",
            Risk::Medium => "MEDIUM_RISK",
            Risk::High => "HIGH_RISK",
            Risk::Critical => "CRITICAL",
            Risk::Unknown => "UNKNOWN",
        }
    }

    /// Parses upstream's spelling (also accepts `LOW`, `MEDIUM`, `HIGH`, case-insensitively).
    pub fn parse(s: &str) -> Option<Risk> {
        let eq = |a: &str| s.eq_ignore_ascii_case(a);
        if eq("SAFE") {
            Some(Risk::Safe)
        } else if eq("LOW_RISK") || eq("LOW") {
            Some(Risk::Low)
        } else if eq("MEDIUM_RISK") || eq("MEDIUM") {
            Some(Risk::Medium)
        } else if eq("HIGH_RISK") || eq("HIGH") {
            Some(Risk::High)
        } else if eq("CRITICAL") {
            Some(Risk::Critical)
        } else if eq("UNKNOWN") {
            Some(Risk::Unknown)
        } else {
            None
        }
    }

    /// The canonical flag bit that encodes this level (`Unknown` encodes as no risk bit).
    pub const fn flag(self) -> Flags {
        match self {
            Risk::Unknown => Flags(0),
            r => Flags(1 << r as u8),
        }
    }
}

impl fmt::Display for Risk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Highest set bit among the five risk bits of `bits`, or `Unknown`. Branch-free in the bit pattern:
/// a select and a load from a small table (a `match` here compiled to a jump table, an indirect
/// branch mispredicted on ~70 % of the gate's registry lookups; callgrind `--branch-sim`).
const fn risk_of(bits: u32) -> Risk {
    const BY_INDEX: [Risk; 8] = [
        Risk::Safe,
        Risk::Low,
        Risk::Medium,
        Risk::High,
        Risk::Critical,
        Risk::Unknown,
        Risk::Unknown,
        Risk::Unknown,
    ];
    let r = bits & 0x1f;
    // r ≤ 31, so the highest set bit is at most 4; r = 0 has none.
    let top = 31u32.wrapping_sub(r.leading_zeros());
    let i = if r == 0 { 5 } else { top };
    BY_INDEX[i as usize & 7]
}

/// Canonical (spec-map) security flags. Bits 0..15 follow the TCP specification (with the extensions of
/// upstream's `full_path_tcp_analyzer.py`); tcap assigns bit 16 to [`Flags::PROCESS_CONTROL`] (the
/// knowledge base's `PROCESS`); bits 17..31 are vendor bits, carried through untouched.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct Flags(pub u32);

macro_rules! flag_consts {
    ($ty:ident { $($(#[$m:meta])* $name:ident = $bit:expr;)* }) => {
        impl $ty {
            $( $(#[$m])* pub const $name: $ty = $ty(1 << $bit); )*
            /// Every named flag with its name, in bit order.
            pub const NAMED: &'static [($ty, &'static str)] = &[ $( ($ty::$name, stringify!($name)), )* ];
        }
    };
}

flag_consts!(Flags {
    /// Bit 0: read-only, no security implications.
    SAFE = 0;
    /// Bit 1: low risk.
    LOW_RISK = 1;
    /// Bit 2: medium risk.
    MEDIUM_RISK = 2;
    /// Bit 3: high risk.
    HIGH_RISK = 3;
    /// Bit 4: critical.
    CRITICAL = 4;
    /// Bit 5: needs sudo.
    REQUIRES_SUDO = 5;
    /// Bit 6: needs root.
    REQUIRES_ROOT = 6;
    /// Bit 7: destroys data.
    DESTRUCTIVE = 7;
    /// Bit 8: reaches the network.
    NETWORK_ACCESS = 8;
    /// Bit 9: modifies files.
    FILE_MODIFICATION = 9;
    /// Bit 10: modifies the system configuration.
    SYSTEM_MODIFICATION = 10;
    /// Bit 11: can escalate privileges.
    PRIVILEGE_ESCALATION = 11;
    /// Bit 12: loads or manipulates kernel modules.
    KERNEL_MODULE = 12;
    /// Bit 13: can escape a container.
    CONTAINER_ESCAPE = 13;
    /// Bit 14: performs cryptographic operations.
    CRYPTO_OPERATION = 14;
    /// Bit 15: touches audit logging.
    AUDIT_LOGGING = 15;
    /// Bit 16 (tcap): starts, signals or controls processes (the knowledge base's `PROCESS`).
    PROCESS_CONTROL = 16;
});

impl Flags {
    /// The five risk bits.
    pub const RISK_MASK: u32 = 0x1f;
    /// Bits with a canonical name (0..16).
    pub const NAMED_MASK: u32 = 0x1_ffff;
    /// Vendor bits (17..31), carried through untouched.
    pub const VENDOR_MASK: u32 = !Self::NAMED_MASK;

    /// The raw bits.
    pub const fn bits(self) -> u32 {
        self.0
    }
    /// Whether every bit of `other` is set.
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }
    /// Union.
    pub const fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }
    /// Risk level: the highest risk bit set, `Unknown` if none.
    pub const fn risk(self) -> Risk {
        risk_of(self.0)
    }
    /// How many risk bits are set (more than one is legal: upstream data has it).
    pub const fn risk_bit_count(self) -> u32 {
        (self.0 & Self::RISK_MASK).count_ones()
    }
    /// The flags with their risk bits replaced by exactly `risk`'s bit.
    pub const fn with_risk(self, risk: Risk) -> Flags {
        Flags((self.0 & !Self::RISK_MASK) | risk.flag().0)
    }
    /// Looks a canonical flag up by name (exact, upper case as in [`Flags::NAMED`]).
    pub fn from_name(name: &str) -> Option<Flags> {
        Self::NAMED.iter().find(|(_, n)| *n == name).map(|(f, _)| *f)
    }
    /// The names of the set named bits, in bit order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        Self::NAMED.iter().filter(move |(f, _)| self.contains(*f)).map(|(_, n)| *n)
    }
    /// The knowledge-base encoding of these flags, or the canonical bits that have no knowledge-base
    /// home.
    pub const fn to_kb(self) -> Result<KbFlags, UnmappedBits> {
        let mut out = self.0 & (Self::RISK_MASK | KbFlags::VENDOR_MASK);
        let mut i = 0;
        while i < KB_MAP.len() {
            let (kb, canon) = KB_MAP[i];
            if self.0 & canon != 0 {
                out |= kb;
            }
            i += 1;
        }
        let mapped = Self::RISK_MASK | KbFlags::VENDOR_MASK | KB_CANON_MASK;
        let rest = self.0 & !mapped;
        if rest != 0 { Err(UnmappedBits(rest)) } else { Ok(KbFlags(out)) }
    }
}

impl fmt::Display for Flags {
    /// `0x000006d0 [CRITICAL|REQUIRES_ROOT|DESTRUCTIVE|...]`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#010x} [", self.0)?;
        let mut first = true;
        for n in self.names() {
            if !first {
                f.write_str("|")?;
            }
            f.write_str(n)?;
            first = false;
        }
        if self.0 & Self::VENDOR_MASK != 0 {
            if !first {
                f.write_str("|")?;
            }
            write!(f, "vendor:{:#x}", self.0 & Self::VENDOR_MASK)?;
        }
        f.write_str("]")
    }
}

/// Flags in the knowledge-base map (`tcp-knowledge-base`, every entry of the real corpus).
///
/// Risk bits 0..4 as in the spec; capabilities at 0x0100 `FILE_OPS`, 0x0200 `NETWORK`, 0x0400 `SUDO`,
/// 0x0800 `DESTRUCTIVE`, 0x1000 `SYSTEM`, 0x2000 `PROCESS`. Bits 17..31 are vendor bits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[repr(transparent)]
pub struct KbFlags(pub u32);

flag_consts!(KbFlags {
    /// Bit 8: file operations.
    FILE_OPS = 8;
    /// Bit 9: network.
    NETWORK = 9;
    /// Bit 10: needs sudo.
    SUDO = 10;
    /// Bit 11: destructive.
    DESTRUCTIVE = 11;
    /// Bit 12: system.
    SYSTEM = 12;
    /// Bit 13: process control.
    PROCESS = 13;
});

/// (knowledge-base bit, canonical bit) pairs for the capability bits.
const KB_MAP: [(u32, u32); 6] = [
    (KbFlags::FILE_OPS.0, Flags::FILE_MODIFICATION.0),
    (KbFlags::NETWORK.0, Flags::NETWORK_ACCESS.0),
    (KbFlags::SUDO.0, Flags::REQUIRES_SUDO.0),
    (KbFlags::DESTRUCTIVE.0, Flags::DESTRUCTIVE.0),
    (KbFlags::SYSTEM.0, Flags::SYSTEM_MODIFICATION.0),
    (KbFlags::PROCESS.0, Flags::PROCESS_CONTROL.0),
];
const KB_KB_MASK: u32 = 0x3f00;
const KB_CANON_MASK: u32 = Flags::FILE_MODIFICATION.0
    | Flags::NETWORK_ACCESS.0
    | Flags::REQUIRES_SUDO.0
    | Flags::DESTRUCTIVE.0
    | Flags::SYSTEM_MODIFICATION.0
    | Flags::PROCESS_CONTROL.0;

/// Flag bits that have no home in the target map; normalisation refuses rather than drop them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UnmappedBits(pub u32);

impl fmt::Display for UnmappedBits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "flag bits {:#010x} have no equivalent in the target flag map", self.0)
    }
}

impl KbFlags {
    /// Vendor bits (17..31), identical in both maps.
    pub const VENDOR_MASK: u32 = 0xfffe_0000;

    /// Risk level: the highest risk bit set, `Unknown` if none.
    pub const fn risk(self) -> Risk {
        risk_of(self.0)
    }

    /// Normalises onto the canonical map. Risk bits and vendor bits are kept, capability bits are moved;
    /// bits that are undefined in the knowledge-base map (5..7, 14..16) are refused, never dropped.
    pub const fn to_canonical(self) -> Result<Flags, UnmappedBits> {
        let mut out = self.0 & (Flags::RISK_MASK | Self::VENDOR_MASK);
        let mut i = 0;
        while i < KB_MAP.len() {
            let (kb, canon) = KB_MAP[i];
            if self.0 & kb != 0 {
                out |= canon;
            }
            i += 1;
        }
        let rest = self.0 & !(Flags::RISK_MASK | Self::VENDOR_MASK | KB_KB_MASK);
        if rest != 0 { Err(UnmappedBits(rest)) } else { Ok(Flags(out)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn risk_is_highest_bit() {
        assert_eq!(Flags(0).risk(), Risk::Unknown);
        assert_eq!(Flags(0x100).risk(), Risk::Unknown);
        assert_eq!(Flags(0x1).risk(), Risk::Safe);
        assert_eq!(Flags(0x6d0).risk(), Risk::Critical);
        assert_eq!(Flags(0x3).risk(), Risk::Low);
        assert_eq!(Flags(0x3).risk_bit_count(), 2);
        assert_eq!(Flags(0x1c).risk(), Risk::Critical);
    }

    #[test]
    fn kb_round_trip_every_combination() {
        // Every combination of the defined KB bits plus a vendor bit survives the round trip.
        for low in 0u32..(1 << 5) {
            for caps in 0u32..(1 << 6) {
                let kb = KbFlags(low | (caps << 8) | 0x8000_0000);
                let canon = kb.to_canonical().unwrap();
                assert_eq!(canon.risk(), kb.risk());
                assert_eq!(canon.0 & Flags::VENDOR_MASK, 0x8000_0000);
                assert_eq!(canon.to_kb().unwrap(), kb);
            }
        }
    }

    #[test]
    fn kb_real_rm() {
        // Knowledge-base rm: flags 0x00001704 = MEDIUM_RISK, FILE_OPS, NETWORK, SUDO, SYSTEM.
        let canon = KbFlags(0x1704).to_canonical().unwrap();
        assert_eq!(canon.risk(), Risk::Medium);
        assert!(canon.contains(Flags::REQUIRES_SUDO));
        assert!(canon.contains(Flags::SYSTEM_MODIFICATION));
        assert!(canon.contains(Flags::FILE_MODIFICATION));
        assert!(canon.contains(Flags::NETWORK_ACCESS));
    }

    #[test]
    fn kb_undefined_bits_refused() {
        assert_eq!(KbFlags(0x20).to_canonical(), Err(UnmappedBits(0x20)));
        assert_eq!(KbFlags(0x1_0000).to_canonical(), Err(UnmappedBits(0x1_0000)));
        assert_eq!(Flags::KERNEL_MODULE.to_kb(), Err(UnmappedBits(Flags::KERNEL_MODULE.0)));
    }

    #[test]
    fn risk_codes_frozen() {
        for r in Risk::ALL {
            assert_eq!(Risk::from_u8(r as u8), Some(r));
            assert_eq!(Risk::parse(r.as_str()), Some(r));
        }
        assert_eq!(Risk::from_u8(6), None);
        assert_eq!(Risk::Critical.flag(), Flags::CRITICAL);
        assert_eq!(Risk::Unknown.flag(), Flags(0));
    }
}
