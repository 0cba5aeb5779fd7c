//! [`tcap_result`]: the frozen result codes of the C ABI, and [`tcap_result_str`].
//!
//! Codes are grouped in blocks of one hundred; a number, once published, never changes meaning and is
//! never reused. New codes take the next free number of their block.
//!
//! | block | meaning |
//! |---|---|
//! | 0 | success |
//! | 1xx | argument errors: NULL pointer, buffer too small, misaligned memory, bad length or enum value |
//! | 2xx | descriptor / decode errors |
//! | 3xx | registry image errors |
//! | 4xx | gate / agent errors |
//! | 5xx | network errors |
//! | 9xx | internal errors (a caught panic) |

use core::ffi::{CStr, c_char};

use crate::boundary;

/// The result of a fallible tcap function. `TCAP_RESULT_OK` (0) is success; every other value is an
/// error whose number is frozen. Outputs are written only on `TCAP_RESULT_OK`.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[must_use]
pub enum tcap_result {
    /// Success.
    Ok = 0,

    // ---- 1xx: arguments -------------------------------------------------------------------------
    /// A required pointer argument was NULL.
    NullArgument = 100,
    /// A caller-provided buffer or memory region is too small; query the size first.
    BufferTooSmall = 101,
    /// A caller-provided pointer or memory region is not aligned for the type it must hold.
    Misaligned = 102,
    /// A length argument is out of range (zero where data is required, or larger than `PTRDIFF_MAX`).
    InvalidLength = 103,
    /// An integer argument is not a valid value of the enum it stands for.
    InvalidEnum = 104,
    /// A handle does not point to an initialised object of the expected type (never initialised,
    /// overwritten, or a handle of another type).
    BadHandle = 105,

    // ---- 2xx: descriptors and decoding --------------------------------------------------------------
    /// Flag bits have no equivalent in the target flag map (they are refused, never dropped).
    UnmappedFlags = 200,
    /// A descriptor is not exactly 24 bytes long.
    DescriptorLength = 201,
    /// A descriptor does not start with `TCP\x02`.
    DescriptorMagic = 202,
    /// A descriptor's version field is not 2.
    DescriptorVersion = 203,
    /// Neither checksum of a descriptor (CRC-32 low 16 bits, byte sum) matches.
    DescriptorChecksum = 204,
    /// A field does not fit the requested layout (the spec layout's 16-bit execution time).
    DescriptorFieldRange = 205,

    // ---- 3xx: registry images -----------------------------------------------------------------------
    /// A registry image is shorter than its header (or than the length its header states).
    ImageTruncated = 300,
    /// The bytes are not a registry image (bad magic).
    ImageMagic = 301,
    /// A registry image version this library does not read.
    ImageVersion = 302,
    /// A registry image's CRC-32C does not match.
    ImageChecksum = 303,
    /// A registry image is structurally invalid (header field, section, bucket, record, count, trailing bytes).
    ImageCorrupt = 304,
    /// The registry has no such command.
    NotFound = 305,

    // ---- 4xx: gate and agents -----------------------------------------------------------------------
    /// An agent id is not below the engine's number of agents.
    AgentOutOfRange = 400,
    /// An agent state is not valid (corrupt or foreign snapshot); nothing was changed.
    AgentStateRejected = 401,
    /// A behaviour configuration was refused (ranges, thresholds).
    ConfigInvalid = 402,
    /// A policy table would allow an unknown command: tcap fails closed.
    PolicyFailsOpen = 403,

    // ---- 5xx: network -------------------------------------------------------------------------------
    /// A node id is not below the network's number of nodes.
    NodeOutOfRange = 500,
    /// No path avoiding blocked nodes joins source and destination.
    NoRoute = 501,
    /// The route's source node is quarantined or isolated.
    SourceBlocked = 502,
    /// The route's destination node is quarantined or isolated.
    DestinationBlocked = 503,
    /// More nodes than `TCAP_NETWORK_MAX_NODES`.
    NetworkCapacity = 504,
    /// An edge from a node to itself, or a weight outside 1..=`TCAP_EDGE_WEIGHT_MAX`.
    EdgeInvalid = 505,
    /// The edge exists already.
    EdgeExists = 506,
    /// A node already has `TCAP_NETWORK_MAX_DEGREE` edges.
    DegreeFull = 507,
    /// A node voted on itself.
    SelfVote = 508,
    /// A quarantined or isolated node tried to vote.
    VoterBlocked = 509,
    /// The voter already voted in the accused's current round.
    AlreadyVoted = 510,
    /// A repair task was already claimed (it ran, or runs on another thread).
    RepairTaskTaken = 511,
    /// Another thread is using that repair worker's scratch; the task stays unclaimed.
    RepairWorkerBusy = 512,
    /// A repair task or worker index is not below the counts the runner was given.
    RepairIndex = 513,

    // ---- 9xx: internal ------------------------------------------------------------------------------
    /// A panic was caught at the boundary. Treat any object passed to that call as poisoned.
    Panic = 900,
    /// An internal invariant failed (a bug in tcap); nothing was written.
    Internal = 901,
}

impl tcap_result {
    /// Every code, in numeric order.
    ///
    /// cbindgen:ignore
    pub const ALL: [tcap_result; 39] = [
        tcap_result::Ok,
        tcap_result::NullArgument,
        tcap_result::BufferTooSmall,
        tcap_result::Misaligned,
        tcap_result::InvalidLength,
        tcap_result::InvalidEnum,
        tcap_result::BadHandle,
        tcap_result::UnmappedFlags,
        tcap_result::DescriptorLength,
        tcap_result::DescriptorMagic,
        tcap_result::DescriptorVersion,
        tcap_result::DescriptorChecksum,
        tcap_result::DescriptorFieldRange,
        tcap_result::ImageTruncated,
        tcap_result::ImageMagic,
        tcap_result::ImageVersion,
        tcap_result::ImageChecksum,
        tcap_result::ImageCorrupt,
        tcap_result::NotFound,
        tcap_result::AgentOutOfRange,
        tcap_result::AgentStateRejected,
        tcap_result::ConfigInvalid,
        tcap_result::PolicyFailsOpen,
        tcap_result::NodeOutOfRange,
        tcap_result::NoRoute,
        tcap_result::SourceBlocked,
        tcap_result::DestinationBlocked,
        tcap_result::NetworkCapacity,
        tcap_result::EdgeInvalid,
        tcap_result::EdgeExists,
        tcap_result::DegreeFull,
        tcap_result::SelfVote,
        tcap_result::VoterBlocked,
        tcap_result::AlreadyVoted,
        tcap_result::RepairTaskTaken,
        tcap_result::RepairWorkerBusy,
        tcap_result::RepairIndex,
        tcap_result::Panic,
        tcap_result::Internal,
    ];

    /// The code for a number, or `None` if no code has that number.
    pub const fn from_u32(code: u32) -> Option<tcap_result> {
        let mut i = 0;
        while i < Self::ALL.len() {
            if Self::ALL[i] as u32 == code {
                return Some(Self::ALL[i]);
            }
            i += 1;
        }
        None
    }

    /// A static, human-readable description.
    pub const fn message(self) -> &'static CStr {
        match self {
            tcap_result::Ok => c"success",
            tcap_result::NullArgument => c"a required pointer argument is NULL",
            tcap_result::BufferTooSmall => c"the caller-provided buffer or memory is too small",
            tcap_result::Misaligned => c"the caller-provided pointer or memory is misaligned",
            tcap_result::InvalidLength => c"a length argument is out of range",
            tcap_result::InvalidEnum => c"an integer argument is not a valid value of its enum",
            tcap_result::BadHandle => c"the handle does not point to an initialised object of its type",
            tcap_result::UnmappedFlags => c"flag bits have no equivalent in the target flag map",
            tcap_result::DescriptorLength => c"a descriptor must be exactly 24 bytes",
            tcap_result::DescriptorMagic => c"a descriptor does not start with the TCP magic",
            tcap_result::DescriptorVersion => c"unsupported descriptor version",
            tcap_result::DescriptorChecksum => c"descriptor checksum mismatch",
            tcap_result::DescriptorFieldRange => c"a descriptor field does not fit the requested layout",
            tcap_result::ImageTruncated => c"registry image truncated",
            tcap_result::ImageMagic => c"not a registry image (bad magic)",
            tcap_result::ImageVersion => c"unsupported registry image version",
            tcap_result::ImageChecksum => c"registry image checksum mismatch",
            tcap_result::ImageCorrupt => c"registry image is structurally invalid",
            tcap_result::NotFound => c"no such command in the registry",
            tcap_result::AgentOutOfRange => c"agent id out of range",
            tcap_result::AgentStateRejected => c"agent state rejected (corrupt or foreign)",
            tcap_result::ConfigInvalid => c"invalid engine configuration",
            tcap_result::PolicyFailsOpen => c"policy would allow unknown commands",
            tcap_result::NodeOutOfRange => c"node id out of range",
            tcap_result::NoRoute => c"no route to the destination",
            tcap_result::SourceBlocked => c"route source is quarantined or isolated",
            tcap_result::DestinationBlocked => c"route destination is quarantined or isolated",
            tcap_result::NetworkCapacity => c"more nodes than the network capacity",
            tcap_result::EdgeInvalid => c"invalid edge (self loop or weight out of range)",
            tcap_result::EdgeExists => c"edge already exists",
            tcap_result::DegreeFull => c"node has no free edge slot",
            tcap_result::SelfVote => c"a node cannot vote on itself",
            tcap_result::VoterBlocked => c"a quarantined or isolated node cannot vote",
            tcap_result::AlreadyVoted => c"voter already voted in this round",
            tcap_result::RepairTaskTaken => c"repair task already claimed",
            tcap_result::RepairWorkerBusy => c"repair worker in use by another thread",
            tcap_result::RepairIndex => c"repair task or worker index out of range",
            tcap_result::Panic => c"internal error: a panic was caught at the C boundary",
            tcap_result::Internal => c"internal error: an invariant failed",
        }
    }

    /// `Ok(())` for [`tcap_result::Ok`], `Err(self)` otherwise.
    pub const fn into_result(self) -> Result<(), tcap_result> {
        match self {
            tcap_result::Ok => Ok(()),
            e => Err(e),
        }
    }
}

/// What [`tcap_result_str`] returns for a number that is not a result code.
pub const UNKNOWN_RESULT: &CStr = c"unknown tcap_result code";

/// A static, NUL-terminated description of a result code. Never NULL: a number that is not a
/// `tcap_result` gets "unknown tcap_result code". The string lives as long as the library is loaded.
#[unsafe(no_mangle)]
pub extern "C" fn tcap_result_str(code: u32) -> *const c_char {
    boundary::guard_value(UNKNOWN_RESULT.as_ptr(), || match tcap_result::from_u32(code) {
        Some(r) => r.message().as_ptr(),
        None => UNKNOWN_RESULT.as_ptr(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_is_complete_sorted_and_blocked() {
        // Every number that maps to a code is in ALL, once, in order.
        let found: usize = (0..=1000).filter(|&n| tcap_result::from_u32(n).is_some()).count();
        assert_eq!(found, tcap_result::ALL.len());
        assert!(tcap_result::ALL.windows(2).all(|w| (w[0] as u32) < (w[1] as u32)));
        for r in tcap_result::ALL {
            let n = r as u32;
            assert_eq!(tcap_result::from_u32(n), Some(r));
            assert!(n == 0 || (100..1000).contains(&n), "{r:?} outside the numbered blocks");
        }
    }

    #[test]
    fn frozen_numbers() {
        // These numbers are published in tcap.h; changing one breaks every compiled C client. A new code
        // must be added here too (the count below fails otherwise).
        assert_eq!(tcap_result::ALL.len(), 39);
        assert_eq!(tcap_result::Ok as u32, 0);
        assert_eq!(tcap_result::NullArgument as u32, 100);
        assert_eq!(tcap_result::BufferTooSmall as u32, 101);
        assert_eq!(tcap_result::Misaligned as u32, 102);
        assert_eq!(tcap_result::InvalidLength as u32, 103);
        assert_eq!(tcap_result::InvalidEnum as u32, 104);
        assert_eq!(tcap_result::BadHandle as u32, 105);
        assert_eq!(tcap_result::UnmappedFlags as u32, 200);
        assert_eq!(tcap_result::DescriptorLength as u32, 201);
        assert_eq!(tcap_result::DescriptorMagic as u32, 202);
        assert_eq!(tcap_result::DescriptorVersion as u32, 203);
        assert_eq!(tcap_result::DescriptorChecksum as u32, 204);
        assert_eq!(tcap_result::DescriptorFieldRange as u32, 205);
        assert_eq!(tcap_result::ImageTruncated as u32, 300);
        assert_eq!(tcap_result::ImageMagic as u32, 301);
        assert_eq!(tcap_result::ImageVersion as u32, 302);
        assert_eq!(tcap_result::ImageChecksum as u32, 303);
        assert_eq!(tcap_result::ImageCorrupt as u32, 304);
        assert_eq!(tcap_result::NotFound as u32, 305);
        assert_eq!(tcap_result::AgentOutOfRange as u32, 400);
        assert_eq!(tcap_result::AgentStateRejected as u32, 401);
        assert_eq!(tcap_result::ConfigInvalid as u32, 402);
        assert_eq!(tcap_result::PolicyFailsOpen as u32, 403);
        assert_eq!(tcap_result::NodeOutOfRange as u32, 500);
        assert_eq!(tcap_result::NoRoute as u32, 501);
        assert_eq!(tcap_result::SourceBlocked as u32, 502);
        assert_eq!(tcap_result::DestinationBlocked as u32, 503);
        assert_eq!(tcap_result::NetworkCapacity as u32, 504);
        assert_eq!(tcap_result::EdgeInvalid as u32, 505);
        assert_eq!(tcap_result::EdgeExists as u32, 506);
        assert_eq!(tcap_result::DegreeFull as u32, 507);
        assert_eq!(tcap_result::SelfVote as u32, 508);
        assert_eq!(tcap_result::VoterBlocked as u32, 509);
        assert_eq!(tcap_result::AlreadyVoted as u32, 510);
        assert_eq!(tcap_result::RepairTaskTaken as u32, 511);
        assert_eq!(tcap_result::RepairWorkerBusy as u32, 512);
        assert_eq!(tcap_result::RepairIndex as u32, 513);
        assert_eq!(tcap_result::Panic as u32, 900);
        assert_eq!(tcap_result::Internal as u32, 901);
    }

    #[test]
    fn every_code_has_a_distinct_message() {
        for (i, a) in tcap_result::ALL.iter().enumerate() {
            // SAFETY: tcap_result_str returns a pointer to a static NUL-terminated string.
            let s = unsafe { CStr::from_ptr(tcap_result_str(*a as u32)) };
            assert_eq!(s, a.message());
            assert_ne!(s, UNKNOWN_RESULT);
            assert!(!s.is_empty());
            for b in &tcap_result::ALL[i + 1..] {
                assert_ne!(a.message(), b.message(), "{a:?} and {b:?} share a message");
            }
        }
        for n in [1, 99, 106, 199, 206, 306, 404, 514, 899, 902, u32::MAX] {
            // SAFETY: as above.
            assert_eq!(unsafe { CStr::from_ptr(tcap_result_str(n)) }, UNKNOWN_RESULT);
        }
    }

    #[test]
    fn into_result() {
        assert_eq!(tcap_result::Ok.into_result(), Ok(()));
        assert_eq!(tcap_result::Misaligned.into_result(), Err(tcap_result::Misaligned));
    }
}
