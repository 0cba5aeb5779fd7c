//! tcap's own stream records: what `tcapd` reads (events) and writes (decisions).
//!
//! A stream is a 16-byte [`StreamHeader`] followed by any number of fixed-size, 32-byte, little-endian
//! records. Event streams and decision streams have different magics, so a reader handed the wrong one
//! refuses it at byte 0. Everything is documented byte by byte in `docs/FORMAT.md` §6.
//!
//! ```text
//! stream header (16 B)  magic[8] version:u16 record_size:u16 flags:u16 reserved:u16
//! event (32 B)          seq:u64 time_us:u64 agent:u32 command:u32 kind:u8 outcome:u8 reserved[6]
//! decision (32 B)       seq:u64 agent:u32 command:u32 decision:u8 risk:u8 agent_state:u8 net_state:u8
//!                       score:i32 reasons:u32 reserved[4]
//! ```
//!
//! Two layers, as everywhere in `wire`: the zero-copy views ([`EventRecord`], [`DecisionRecord`],
//! [`StreamHeaderView`]) check the length once in `new_checked`, after which no accessor can panic; the
//! `Repr` structs ([`EventRepr`], [`DecisionRepr`], [`StreamHeader`]) validate every field in `parse`
//! (enumerations, reserved bytes) and `emit` the canonical bytes. The raw layouts ([`EventRaw`],
//! [`DecisionRaw`]) are `zerocopy` types with alignment 1, so a whole buffer of records can be viewed as a
//! slice with [`events_in`] without copying.

use core::fmt;

use zerocopy::byteorder::little_endian::{I32, U16, U32, U64};
use zerocopy::{FromBytes, FromZeros, Immutable, IntoBytes, KnownLayout, Unaligned};

use crate::network::NodeState;
use crate::wire::Risk;

/// Size of a stream header in bytes.
pub const HEADER_LEN: usize = 16;
/// Size of an event record in bytes.
pub const EVENT_LEN: usize = 32;
/// Size of a decision record in bytes.
pub const DECISION_LEN: usize = 32;
/// The record format version this code reads and writes.
pub const VERSION: u16 = 1;

/// Magic of an event stream. PNG-style: a byte with the high bit set (catches 7-bit transports) and a
/// trailing `\n` (catches line-ending conversion).
pub const EVENT_MAGIC: [u8; 8] = *b"\x89TCAPEV\n";
/// Magic of a decision stream.
pub const DECISION_MAGIC: [u8; 8] = *b"\x89TCAPDC\n";

/// A record-level decoding error. Small and `Copy`; the driver adds the source and byte offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RecordError {
    /// Fewer bytes than the structure needs.
    Truncated {
        /// Bytes needed.
        needed: usize,
        /// Bytes available.
        got: usize,
    },
    /// The first eight bytes are not the expected stream magic.
    BadMagic {
        /// The magic that was expected.
        expected: StreamKind,
        /// The other kind of tcap stream, if the magic is that one's.
        found: Option<StreamKind>,
    },
    /// A format version this code does not read.
    UnsupportedVersion(u16),
    /// The header's record size does not match the kind's.
    BadRecordSize {
        /// Size this code uses for the kind.
        expected: u16,
        /// Size the header declares.
        found: u16,
    },
    /// Header flag bits this version does not define.
    UnknownFlags(u16),
    /// A reserved byte is not zero (at this offset within the structure).
    NonZeroReserved(u8),
    /// Event kind byte out of range.
    UnknownKind(u8),
    /// Outcome byte out of range (or nonzero on a call event).
    UnknownOutcome(u8),
    /// Decision byte out of range.
    UnknownDecision(u8),
    /// Risk byte out of range.
    UnknownRisk(u8),
    /// Agent state byte out of range.
    UnknownAgentState(u8),
    /// Network node state byte out of range.
    UnknownNetState(u8),
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            RecordError::Truncated { needed, got } => {
                write!(f, "truncated: need {needed} bytes, have {got}")
            }
            RecordError::BadMagic { expected, found: Some(found) } => {
                write!(f, "bad magic: this is {} stream, expected {} stream", found.article(), expected)
            }
            RecordError::BadMagic { expected, found: None } => {
                write!(f, "bad magic: not a tcap {expected} stream")
            }
            RecordError::UnsupportedVersion(v) => {
                write!(f, "unsupported stream version {v} (this build reads version {VERSION})")
            }
            RecordError::BadRecordSize { expected, found } => {
                write!(f, "record size {found} in header, expected {expected}")
            }
            RecordError::UnknownFlags(b) => write!(f, "unknown header flags {b:#06x}"),
            RecordError::NonZeroReserved(off) => write!(f, "reserved byte at offset {off} is not zero"),
            RecordError::UnknownKind(v) => write!(f, "unknown event kind {v}"),
            RecordError::UnknownOutcome(v) => write!(f, "unknown outcome {v}"),
            RecordError::UnknownDecision(v) => write!(f, "unknown decision {v}"),
            RecordError::UnknownRisk(v) => write!(f, "unknown risk {v}"),
            RecordError::UnknownAgentState(v) => write!(f, "unknown agent state {v}"),
            RecordError::UnknownNetState(v) => write!(f, "unknown network state {v}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for RecordError {}

// ---------------------------------------------------------------------------------------------------------
// Stream header

/// Which kind of records a stream carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StreamKind {
    /// [`EventRepr`] records (into `tcapd`).
    Events,
    /// [`DecisionRepr`] records (out of `tcapd`).
    Decisions,
}

impl StreamKind {
    /// The magic that opens a stream of this kind.
    pub const fn magic(self) -> [u8; 8] {
        match self {
            StreamKind::Events => EVENT_MAGIC,
            StreamKind::Decisions => DECISION_MAGIC,
        }
    }
    /// Record size of this kind.
    pub const fn record_len(self) -> usize {
        match self {
            StreamKind::Events => EVENT_LEN,
            StreamKind::Decisions => DECISION_LEN,
        }
    }
    /// The kind whose magic this is, if any.
    pub fn from_magic(m: &[u8]) -> Option<StreamKind> {
        if m == EVENT_MAGIC {
            Some(StreamKind::Events)
        } else if m == DECISION_MAGIC {
            Some(StreamKind::Decisions)
        } else {
            None
        }
    }
    const fn article(self) -> &'static str {
        match self {
            StreamKind::Events => "an event",
            StreamKind::Decisions => "a decision",
        }
    }
}

impl fmt::Display for StreamKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StreamKind::Events => "event",
            StreamKind::Decisions => "decision",
        })
    }
}

/// Raw layout of the 16-byte stream header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct HeaderRaw {
    /// Bytes 0..8: [`EVENT_MAGIC`] or [`DECISION_MAGIC`].
    pub magic: [u8; 8],
    /// Bytes 8..10: format version ([`VERSION`]).
    pub version: U16,
    /// Bytes 10..12: size of each record that follows.
    pub record_size: U16,
    /// Bytes 12..14: flags; none defined in version 1 (all must be zero).
    pub flags: U16,
    /// Bytes 14..16: reserved, zero.
    pub reserved: [u8; 2],
}

const _: () = assert!(size_of::<HeaderRaw>() == HEADER_LEN);
const _: () = assert!(core::mem::offset_of!(HeaderRaw, version) == 8);
const _: () = assert!(core::mem::offset_of!(HeaderRaw, record_size) == 10);
const _: () = assert!(core::mem::offset_of!(HeaderRaw, flags) == 12);
const _: () = assert!(core::mem::offset_of!(HeaderRaw, reserved) == 14);

/// Zero-copy view of a stream header; `new_checked` guarantees 16 bytes.
#[derive(Clone, Copy, Debug)]
pub struct StreamHeaderView<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> StreamHeaderView<T> {
    /// Wraps `buf` after checking it holds at least [`HEADER_LEN`] bytes.
    pub fn new_checked(buf: T) -> Result<Self, RecordError> {
        let got = buf.as_ref().len();
        if got < HEADER_LEN {
            Err(RecordError::Truncated { needed: HEADER_LEN, got })
        } else {
            Ok(Self { buf })
        }
    }
    fn raw(&self) -> HeaderRaw {
        // new_checked guaranteed the length; read_from_prefix cannot fail on it.
        HeaderRaw::read_from_prefix(self.buf.as_ref()).map(|(r, _)| r).unwrap_or(HeaderRaw::new_zeroed())
    }
    /// Bytes 0..8.
    pub fn magic(&self) -> [u8; 8] {
        self.raw().magic
    }
    /// Bytes 8..10.
    pub fn version(&self) -> u16 {
        self.raw().version.get()
    }
    /// Bytes 10..12.
    pub fn record_size(&self) -> u16 {
        self.raw().record_size.get()
    }
    /// Bytes 12..14.
    pub fn flags(&self) -> u16 {
        self.raw().flags.get()
    }
}

/// A validated stream header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamHeader {
    /// What the stream carries.
    pub kind: StreamKind,
}

impl StreamHeader {
    /// Header of an event stream in the current version.
    pub const EVENTS: StreamHeader = StreamHeader { kind: StreamKind::Events };
    /// Header of a decision stream in the current version.
    pub const DECISIONS: StreamHeader = StreamHeader { kind: StreamKind::Decisions };

    /// Parses and validates the first [`HEADER_LEN`] bytes of `buf` as a stream of kind `expected`.
    /// Checks, in order: length, magic, version, record size, flags, reserved.
    pub fn parse(buf: &[u8], expected: StreamKind) -> Result<StreamHeader, RecordError> {
        let v = StreamHeaderView::new_checked(buf)?;
        let raw = v.raw();
        if raw.magic != expected.magic() {
            return Err(RecordError::BadMagic { expected, found: StreamKind::from_magic(&raw.magic) });
        }
        if raw.version.get() != VERSION {
            return Err(RecordError::UnsupportedVersion(raw.version.get()));
        }
        let want = expected.record_len() as u16;
        if raw.record_size.get() != want {
            return Err(RecordError::BadRecordSize { expected: want, found: raw.record_size.get() });
        }
        if raw.flags.get() != 0 {
            return Err(RecordError::UnknownFlags(raw.flags.get()));
        }
        if let Some(i) = raw.reserved.iter().position(|&b| b != 0) {
            return Err(RecordError::NonZeroReserved(14 + i as u8));
        }
        Ok(StreamHeader { kind: expected })
    }

    /// The 16 header bytes.
    pub fn to_bytes(self) -> [u8; HEADER_LEN] {
        let raw = HeaderRaw {
            magic: self.kind.magic(),
            version: U16::new(VERSION),
            record_size: U16::new(self.kind.record_len() as u16),
            flags: U16::new(0),
            reserved: [0; 2],
        };
        let mut out = [0u8; HEADER_LEN];
        out.copy_from_slice(raw.as_bytes());
        out
    }

    /// Writes the header into the first [`HEADER_LEN`] bytes of `out`.
    pub fn emit(self, out: &mut [u8]) -> Result<(), RecordError> {
        let got = out.len();
        let dst = out.get_mut(..HEADER_LEN).ok_or(RecordError::Truncated { needed: HEADER_LEN, got })?;
        dst.copy_from_slice(&self.to_bytes());
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------------------
// Events

/// What an event reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum EventKind {
    /// The agent asks to run a tool: a decision is wanted.
    Call = 0,
    /// The result of an earlier call: feeds the agent's behaviour, no decision.
    Outcome = 1,
}

impl EventKind {
    /// The value for a numeric code.
    pub const fn from_u8(v: u8) -> Option<EventKind> {
        match v {
            0 => Some(EventKind::Call),
            1 => Some(EventKind::Outcome),
            _ => None,
        }
    }
}

/// How a call ended (meaningful on [`EventKind::Outcome`] events; zero on calls): the behaviour
/// engine's own [`behavior::Outcome`](crate::behavior::Outcome), whose codes are frozen (pinned below).
pub use crate::behavior::Outcome;

/// Raw layout of a 32-byte event record (little-endian, alignment 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct EventRaw {
    /// Bytes 0..8: sequence number, chosen by the producer; echoed in the decision.
    pub seq: U64,
    /// Bytes 8..16: time of the event in microseconds (the producer's monotonic clock).
    pub time_us: U64,
    /// Bytes 16..20: agent id.
    pub agent: U32,
    /// Bytes 20..24: TCP command id (MD5 prefix of the command name).
    pub command: U32,
    /// Byte 24: [`EventKind`].
    pub kind: u8,
    /// Byte 25: [`Outcome`] (zero for calls).
    pub outcome: u8,
    /// Bytes 26..32: reserved, zero.
    pub reserved: [u8; 6],
}

const _: () = assert!(size_of::<EventRaw>() == EVENT_LEN);
const _: () = assert!(align_of::<EventRaw>() == 1);
const _: () = assert!(core::mem::offset_of!(EventRaw, time_us) == 8);
const _: () = assert!(core::mem::offset_of!(EventRaw, agent) == 16);
const _: () = assert!(core::mem::offset_of!(EventRaw, command) == 20);
const _: () = assert!(core::mem::offset_of!(EventRaw, kind) == 24);
const _: () = assert!(core::mem::offset_of!(EventRaw, outcome) == 25);
const _: () = assert!(core::mem::offset_of!(EventRaw, reserved) == 26);

/// A validated event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EventRepr {
    /// Sequence number (echoed in the decision).
    pub seq: u64,
    /// Time in microseconds.
    pub time_us: u64,
    /// Agent id.
    pub agent: u32,
    /// TCP command id.
    pub command: u32,
    /// `None` for a call; the outcome for an outcome event.
    pub outcome: Option<Outcome>,
}

impl EventRepr {
    /// The event's kind.
    pub const fn kind(&self) -> EventKind {
        match self.outcome {
            None => EventKind::Call,
            Some(_) => EventKind::Outcome,
        }
    }

    /// Validates a raw record: kind, outcome (zero on calls) and reserved bytes.
    #[inline]
    pub fn from_raw(raw: &EventRaw) -> Result<EventRepr, RecordError> {
        if raw.reserved != [0; 6] {
            let i = raw.reserved.iter().position(|&b| b != 0).unwrap_or(0);
            return Err(RecordError::NonZeroReserved(26 + i as u8));
        }
        let outcome = match raw.kind {
            0 if raw.outcome == 0 => None,
            0 => return Err(RecordError::UnknownOutcome(raw.outcome)),
            1 => Some(Outcome::from_u8(raw.outcome).ok_or(RecordError::UnknownOutcome(raw.outcome))?),
            k => return Err(RecordError::UnknownKind(k)),
        };
        Ok(EventRepr {
            seq: raw.seq.get(),
            time_us: raw.time_us.get(),
            agent: raw.agent.get(),
            command: raw.command.get(),
            outcome,
        })
    }

    /// Parses the first [`EVENT_LEN`] bytes of `buf`.
    pub fn parse(buf: &[u8]) -> Result<EventRepr, RecordError> {
        EventRepr::from_raw(EventRecord::new_checked(buf)?.raw())
    }

    /// The raw record.
    #[inline]
    pub fn to_raw(&self) -> EventRaw {
        EventRaw {
            seq: U64::new(self.seq),
            time_us: U64::new(self.time_us),
            agent: U32::new(self.agent),
            command: U32::new(self.command),
            kind: self.kind() as u8,
            outcome: self.outcome.map_or(0, |o| o as u8),
            reserved: [0; 6],
        }
    }

    /// Writes the record into the first [`EVENT_LEN`] bytes of `out`.
    pub fn emit(&self, out: &mut [u8]) -> Result<(), RecordError> {
        let got = out.len();
        let dst = out.get_mut(..EVENT_LEN).ok_or(RecordError::Truncated { needed: EVENT_LEN, got })?;
        dst.copy_from_slice(self.to_raw().as_bytes());
        Ok(())
    }
}

/// Zero-copy view of one event record; `new_checked` guarantees [`EVENT_LEN`] bytes.
#[derive(Clone, Copy, Debug)]
pub struct EventRecord<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> EventRecord<T> {
    /// Wraps `buf` after checking it holds at least [`EVENT_LEN`] bytes.
    pub fn new_checked(buf: T) -> Result<Self, RecordError> {
        let got = buf.as_ref().len();
        if got < EVENT_LEN {
            Err(RecordError::Truncated { needed: EVENT_LEN, got })
        } else {
            Ok(Self { buf })
        }
    }
    /// The raw layout (no field validated).
    pub fn raw(&self) -> &EventRaw {
        match EventRaw::ref_from_prefix(self.buf.as_ref()) {
            Ok((r, _)) => r,
            // Unreachable: new_checked guaranteed the length and the type has alignment 1.
            Err(_) => &ZERO_EVENT,
        }
    }
    /// Bytes 0..8.
    pub fn seq(&self) -> u64 {
        self.raw().seq.get()
    }
    /// Bytes 8..16.
    pub fn time_us(&self) -> u64 {
        self.raw().time_us.get()
    }
    /// Bytes 16..20.
    pub fn agent(&self) -> u32 {
        self.raw().agent.get()
    }
    /// Bytes 20..24.
    pub fn command(&self) -> u32 {
        self.raw().command.get()
    }
    /// Byte 24 (unvalidated).
    pub fn kind_byte(&self) -> u8 {
        self.raw().kind
    }
    /// Byte 25 (unvalidated).
    pub fn outcome_byte(&self) -> u8 {
        self.raw().outcome
    }
}

static ZERO_EVENT: EventRaw = EventRaw {
    seq: U64::ZERO,
    time_us: U64::ZERO,
    agent: U32::ZERO,
    command: U32::ZERO,
    kind: 0,
    outcome: 0,
    reserved: [0; 6],
};

// ---------------------------------------------------------------------------------------------------------
// Decisions

/// The decision on a call, as carried in a decision record: the gate's own
/// [`gate::Decision`](crate::gate::Decision), whose codes are frozen (pinned below).
pub use crate::gate::Decision;

/// The agent's behavioural state, as carried in a decision record: the behaviour engine's
/// [`behavior::AgentStatus`](crate::behavior::AgentStatus), whose codes are frozen (pinned below).
pub use crate::behavior::AgentStatus as AgentState;

// The record layout pins these codes (docs/RECORDS.md); the enums are shared with the gate, so a change
// there that would silently change the wire format fails to compile here instead.
const _: () = {
    assert!(Outcome::Success as u8 == 0 && Outcome::Error as u8 == 1);
    assert!(Outcome::Denied as u8 == 2 && Outcome::Timeout as u8 == 3);
    assert!(Decision::Allow as u8 == 0 && Decision::Caution as u8 == 1);
    assert!(Decision::RequireApproval as u8 == 2 && Decision::Deny as u8 == 3);
    assert!(Decision::Quarantined as u8 == 4);
    assert!(AgentState::Trusted as u8 == 0 && AgentState::Monitored as u8 == 1);
    assert!(AgentState::Restricted as u8 == 2 && AgentState::Quarantined as u8 == 3);
};

/// Raw layout of a 32-byte decision record (little-endian, alignment 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, FromBytes, IntoBytes, KnownLayout, Immutable, Unaligned)]
#[repr(C)]
pub struct DecisionRaw {
    /// Bytes 0..8: the event's sequence number.
    pub seq: U64,
    /// Bytes 8..12: agent id.
    pub agent: U32,
    /// Bytes 12..16: command id.
    pub command: U32,
    /// Byte 16: [`Decision`].
    pub decision: u8,
    /// Byte 17: [`Risk`].
    pub risk: u8,
    /// Byte 18: [`AgentState`].
    pub agent_state: u8,
    /// Byte 19: [`NodeState`].
    pub net_state: u8,
    /// Bytes 20..24: the agent's score (signed fixed point; the gate defines the scale).
    pub score: I32,
    /// Bytes 24..28: reason bits (the gate defines them).
    pub reasons: U32,
    /// Bytes 28..32: reserved, zero.
    pub reserved: [u8; 4],
}

const _: () = assert!(size_of::<DecisionRaw>() == DECISION_LEN);
const _: () = assert!(align_of::<DecisionRaw>() == 1);
const _: () = assert!(core::mem::offset_of!(DecisionRaw, agent) == 8);
const _: () = assert!(core::mem::offset_of!(DecisionRaw, command) == 12);
const _: () = assert!(core::mem::offset_of!(DecisionRaw, decision) == 16);
const _: () = assert!(core::mem::offset_of!(DecisionRaw, risk) == 17);
const _: () = assert!(core::mem::offset_of!(DecisionRaw, agent_state) == 18);
const _: () = assert!(core::mem::offset_of!(DecisionRaw, net_state) == 19);
const _: () = assert!(core::mem::offset_of!(DecisionRaw, score) == 20);
const _: () = assert!(core::mem::offset_of!(DecisionRaw, reasons) == 24);
const _: () = assert!(core::mem::offset_of!(DecisionRaw, reserved) == 28);

/// A validated decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DecisionRepr {
    /// The event's sequence number.
    pub seq: u64,
    /// Agent id.
    pub agent: u32,
    /// Command id.
    pub command: u32,
    /// The decision.
    pub decision: Decision,
    /// The command's risk.
    pub risk: Risk,
    /// The agent's state after the event.
    pub agent_state: AgentState,
    /// The agent's node state in the network.
    pub net_state: NodeState,
    /// The agent's score.
    pub score: i32,
    /// Reason bits.
    pub reasons: u32,
}

impl DecisionRepr {
    /// Validates a raw record: every enumeration and the reserved bytes.
    pub fn from_raw(raw: &DecisionRaw) -> Result<DecisionRepr, RecordError> {
        if let Some(i) = raw.reserved.iter().position(|&b| b != 0) {
            return Err(RecordError::NonZeroReserved(28 + i as u8));
        }
        Ok(DecisionRepr {
            seq: raw.seq.get(),
            agent: raw.agent.get(),
            command: raw.command.get(),
            decision: Decision::from_u8(raw.decision).ok_or(RecordError::UnknownDecision(raw.decision))?,
            risk: Risk::from_u8(raw.risk).ok_or(RecordError::UnknownRisk(raw.risk))?,
            agent_state: AgentState::from_u8(raw.agent_state)
                .ok_or(RecordError::UnknownAgentState(raw.agent_state))?,
            net_state: NodeState::from_u8(raw.net_state)
                .ok_or(RecordError::UnknownNetState(raw.net_state))?,
            score: raw.score.get(),
            reasons: raw.reasons.get(),
        })
    }

    /// Parses the first [`DECISION_LEN`] bytes of `buf`.
    pub fn parse(buf: &[u8]) -> Result<DecisionRepr, RecordError> {
        DecisionRepr::from_raw(DecisionRecord::new_checked(buf)?.raw())
    }

    /// The raw record.
    #[inline]
    pub fn to_raw(&self) -> DecisionRaw {
        DecisionRaw {
            seq: U64::new(self.seq),
            agent: U32::new(self.agent),
            command: U32::new(self.command),
            decision: self.decision as u8,
            risk: self.risk as u8,
            agent_state: self.agent_state as u8,
            net_state: self.net_state as u8,
            score: I32::new(self.score),
            reasons: U32::new(self.reasons),
            reserved: [0; 4],
        }
    }

    /// Writes the record into the first [`DECISION_LEN`] bytes of `out`.
    pub fn emit(&self, out: &mut [u8]) -> Result<(), RecordError> {
        let got = out.len();
        let dst = out.get_mut(..DECISION_LEN).ok_or(RecordError::Truncated { needed: DECISION_LEN, got })?;
        dst.copy_from_slice(self.to_raw().as_bytes());
        Ok(())
    }
}

/// Zero-copy view of one decision record; `new_checked` guarantees [`DECISION_LEN`] bytes.
#[derive(Clone, Copy, Debug)]
pub struct DecisionRecord<T: AsRef<[u8]>> {
    buf: T,
}

impl<T: AsRef<[u8]>> DecisionRecord<T> {
    /// Wraps `buf` after checking it holds at least [`DECISION_LEN`] bytes.
    pub fn new_checked(buf: T) -> Result<Self, RecordError> {
        let got = buf.as_ref().len();
        if got < DECISION_LEN {
            Err(RecordError::Truncated { needed: DECISION_LEN, got })
        } else {
            Ok(Self { buf })
        }
    }
    /// The raw layout (no field validated).
    pub fn raw(&self) -> &DecisionRaw {
        match DecisionRaw::ref_from_prefix(self.buf.as_ref()) {
            Ok((r, _)) => r,
            // Unreachable: new_checked guaranteed the length and the type has alignment 1.
            Err(_) => &ZERO_DECISION,
        }
    }
    /// Bytes 0..8.
    pub fn seq(&self) -> u64 {
        self.raw().seq.get()
    }
    /// Bytes 8..12.
    pub fn agent(&self) -> u32 {
        self.raw().agent.get()
    }
    /// Bytes 12..16.
    pub fn command(&self) -> u32 {
        self.raw().command.get()
    }
    /// Byte 16 (unvalidated).
    pub fn decision_byte(&self) -> u8 {
        self.raw().decision
    }
    /// Bytes 20..24.
    pub fn score(&self) -> i32 {
        self.raw().score.get()
    }
    /// Bytes 24..28.
    pub fn reasons(&self) -> u32 {
        self.raw().reasons.get()
    }
}

static ZERO_DECISION: DecisionRaw = DecisionRaw {
    seq: U64::ZERO,
    agent: U32::ZERO,
    command: U32::ZERO,
    decision: 0,
    risk: 0,
    agent_state: 0,
    net_state: 0,
    score: I32::ZERO,
    reasons: U32::ZERO,
    reserved: [0; 4],
};

// ---------------------------------------------------------------------------------------------------------
// Batches

/// The first bad record of a batch: its index within the batch and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchError {
    /// Index of the record (byte offset = `index * record size`).
    pub index: usize,
    /// Why it was refused.
    pub error: RecordError,
}

impl fmt::Display for BatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "record {}: {}", self.index, self.error)
    }
}

#[cfg(feature = "std")]
impl std::error::Error for BatchError {}

/// Views the whole records at the front of `bytes` as raw events, without copying; also returns the
/// trailing bytes that do not make a whole record (a partial record to carry into the next buffer).
pub fn events_in(bytes: &[u8]) -> (&[EventRaw], &[u8]) {
    let whole = bytes.len() / EVENT_LEN * EVENT_LEN;
    let (head, tail) = bytes.split_at(whole);
    // The length is a multiple of the element size and the alignment is 1, so this cannot fail.
    (<[EventRaw]>::ref_from_bytes(head).unwrap_or(&[]), tail)
}

/// Views the whole records at the front of `bytes` as raw decisions; also returns the trailing bytes.
pub fn decisions_in(bytes: &[u8]) -> (&[DecisionRaw], &[u8]) {
    let whole = bytes.len() / DECISION_LEN * DECISION_LEN;
    let (head, tail) = bytes.split_at(whole);
    (<[DecisionRaw]>::ref_from_bytes(head).unwrap_or(&[]), tail)
}

/// Views `out` (whose length must be a multiple of [`DECISION_LEN`]; any tail is left out) as raw
/// decision slots to be filled in place.
pub fn decisions_in_mut(out: &mut [u8]) -> &mut [DecisionRaw] {
    let whole = out.len() / DECISION_LEN * DECISION_LEN;
    <[DecisionRaw]>::mut_from_bytes(&mut out[..whole]).unwrap_or(&mut [])
}

/// Parses every event in `bytes` (a whole number of records, no header), calling `f` on each in order.
/// Stops at the first invalid record and reports its index; records before it have been passed to `f`.
/// A trailing partial record is reported as [`RecordError::Truncated`] at its index.
pub fn parse_events(bytes: &[u8], mut f: impl FnMut(EventRepr)) -> Result<usize, BatchError> {
    let (raws, tail) = events_in(bytes);
    for (index, raw) in raws.iter().enumerate() {
        f(EventRepr::from_raw(raw).map_err(|error| BatchError { index, error })?);
    }
    if !tail.is_empty() {
        return Err(BatchError {
            index: raws.len(),
            error: RecordError::Truncated { needed: EVENT_LEN, got: tail.len() },
        });
    }
    Ok(raws.len())
}

/// Parses every decision in `bytes` (a whole number of records, no header), calling `f` on each.
/// Same contract as [`parse_events`].
pub fn parse_decisions(bytes: &[u8], mut f: impl FnMut(DecisionRepr)) -> Result<usize, BatchError> {
    let (raws, tail) = decisions_in(bytes);
    for (index, raw) in raws.iter().enumerate() {
        f(DecisionRepr::from_raw(raw).map_err(|error| BatchError { index, error })?);
    }
    if !tail.is_empty() {
        return Err(BatchError {
            index: raws.len(),
            error: RecordError::Truncated { needed: DECISION_LEN, got: tail.len() },
        });
    }
    Ok(raws.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A call event, byte by byte (the fixture in docs/FORMAT.md §6.5).
    const CALL: [u8; 32] = [
        0x2a, 0, 0, 0, 0, 0, 0, 0, // seq 42
        0x40, 0x42, 0x0f, 0, 0, 0, 0, 0, // time 1_000_000 µs
        0x07, 0, 0, 0, // agent 7
        0x9b, 0x24, 0x7f, 0xd6, // command 0xd67f249b ("rm")
        0, 0, // call, outcome 0
        0, 0, 0, 0, 0, 0,
    ];
    /// An outcome event: seq 43, time 1_000_250, agent 7, "rm", timeout.
    const OUTCOME: [u8; 32] = [
        0x2b, 0, 0, 0, 0, 0, 0, 0, 0x3a, 0x43, 0x0f, 0, 0, 0, 0, 0, 0x07, 0, 0, 0, 0x9b, 0x24, 0x7f, 0xd6, 1,
        3, 0, 0, 0, 0, 0, 0,
    ];
    /// A decision: seq 42, agent 7, "rm", deny, critical, restricted, suspicious, score -1234, reasons 0x11.
    const DECISION: [u8; 32] = [
        0x2a, 0, 0, 0, 0, 0, 0, 0, 0x07, 0, 0, 0, 0x9b, 0x24, 0x7f, 0xd6, 3, 4, 2, 1, 0x2e, 0xfb, 0xff, 0xff,
        0x11, 0, 0, 0, 0, 0, 0, 0,
    ];

    fn rm() -> u32 {
        crate::wire::command_id(b"rm")
    }

    #[test]
    fn header_fixture_and_round_trip() {
        let h = StreamHeader::EVENTS.to_bytes();
        assert_eq!(&h, b"\x89TCAPEV\n\x01\x00\x20\x00\x00\x00\x00\x00");
        assert_eq!(StreamHeader::parse(&h, StreamKind::Events), Ok(StreamHeader::EVENTS));
        let d = StreamHeader::DECISIONS.to_bytes();
        assert_eq!(&d[..8], b"\x89TCAPDC\n");
        assert_eq!(StreamHeader::parse(&d, StreamKind::Decisions), Ok(StreamHeader::DECISIONS));
        let v = StreamHeaderView::new_checked(&d[..]).unwrap();
        assert_eq!((v.version(), v.record_size(), v.flags()), (1, 32, 0));
    }

    #[test]
    fn header_refusals() {
        let h = StreamHeader::EVENTS.to_bytes();
        assert_eq!(
            StreamHeader::parse(&h, StreamKind::Decisions),
            Err(RecordError::BadMagic { expected: StreamKind::Decisions, found: Some(StreamKind::Events) })
        );
        let mut bad = h;
        bad[1] = b'X';
        assert_eq!(
            StreamHeader::parse(&bad, StreamKind::Events),
            Err(RecordError::BadMagic { expected: StreamKind::Events, found: None })
        );
        let mut bad = h;
        bad[8] = 2;
        assert_eq!(StreamHeader::parse(&bad, StreamKind::Events), Err(RecordError::UnsupportedVersion(2)));
        let mut bad = h;
        bad[10] = 24;
        assert_eq!(
            StreamHeader::parse(&bad, StreamKind::Events),
            Err(RecordError::BadRecordSize { expected: 32, found: 24 })
        );
        let mut bad = h;
        bad[13] = 0x80;
        assert_eq!(StreamHeader::parse(&bad, StreamKind::Events), Err(RecordError::UnknownFlags(0x8000)));
        let mut bad = h;
        bad[15] = 1;
        assert_eq!(StreamHeader::parse(&bad, StreamKind::Events), Err(RecordError::NonZeroReserved(15)));
        for n in 0..HEADER_LEN {
            assert_eq!(
                StreamHeader::parse(&h[..n], StreamKind::Events),
                Err(RecordError::Truncated { needed: 16, got: n })
            );
        }
    }

    #[test]
    fn event_fixtures() {
        let call = EventRepr::parse(&CALL).unwrap();
        assert_eq!(call, EventRepr { seq: 42, time_us: 1_000_000, agent: 7, command: rm(), outcome: None });
        assert_eq!(call.kind(), EventKind::Call);
        let out = EventRepr::parse(&OUTCOME).unwrap();
        assert_eq!(out.outcome, Some(Outcome::Timeout));
        assert_eq!((out.seq, out.time_us, out.agent, out.command), (43, 1_000_250, 7, rm()));
        let mut buf = [0xffu8; 32];
        call.emit(&mut buf).unwrap();
        assert_eq!(buf, CALL);
        out.emit(&mut buf).unwrap();
        assert_eq!(buf, OUTCOME);
        let v = EventRecord::new_checked(&CALL[..]).unwrap();
        assert_eq!((v.seq(), v.time_us(), v.agent(), v.command()), (42, 1_000_000, 7, rm()));
        assert_eq!((v.kind_byte(), v.outcome_byte()), (0, 0));
    }

    #[test]
    fn event_refusals() {
        let mut b = CALL;
        b[24] = 2;
        assert_eq!(EventRepr::parse(&b), Err(RecordError::UnknownKind(2)));
        let mut b = CALL;
        b[25] = 1;
        assert_eq!(EventRepr::parse(&b), Err(RecordError::UnknownOutcome(1)), "outcome on a call");
        let mut b = OUTCOME;
        b[25] = 4;
        assert_eq!(EventRepr::parse(&b), Err(RecordError::UnknownOutcome(4)));
        for i in 26..32 {
            let mut b = CALL;
            b[i] = 0x01;
            assert_eq!(EventRepr::parse(&b), Err(RecordError::NonZeroReserved(i as u8)));
        }
        for n in 0..EVENT_LEN {
            assert_eq!(EventRepr::parse(&CALL[..n]), Err(RecordError::Truncated { needed: 32, got: n }));
            assert!(EventRecord::new_checked(&CALL[..n]).is_err());
        }
    }

    #[test]
    fn decision_fixture_and_refusals() {
        let d = DecisionRepr::parse(&DECISION).unwrap();
        assert_eq!(
            d,
            DecisionRepr {
                seq: 42,
                agent: 7,
                command: rm(),
                decision: Decision::Deny,
                risk: Risk::Critical,
                agent_state: AgentState::Restricted,
                net_state: NodeState::Suspicious,
                score: -1234,
                reasons: 0x11,
            }
        );
        let mut buf = [0u8; 40];
        d.emit(&mut buf).unwrap();
        assert_eq!(buf[..32], DECISION);
        assert_eq!(buf[32..], [0; 8], "emit writes exactly 32 bytes");
        assert_eq!(d.emit(&mut buf[..31]), Err(RecordError::Truncated { needed: 32, got: 31 }));
        let v = DecisionRecord::new_checked(&DECISION[..]).unwrap();
        assert_eq!((v.seq(), v.agent(), v.score(), v.reasons(), v.decision_byte()), (42, 7, -1234, 0x11, 3));
        let cases: [(usize, u8, RecordError); 5] = [
            (16, 5, RecordError::UnknownDecision(5)),
            (17, 6, RecordError::UnknownRisk(6)),
            (18, 4, RecordError::UnknownAgentState(4)),
            (19, 5, RecordError::UnknownNetState(5)),
            (31, 9, RecordError::NonZeroReserved(31)),
        ];
        for (off, val, err) in cases {
            let mut b = DECISION;
            b[off] = val;
            assert_eq!(DecisionRepr::parse(&b), Err(err));
        }
    }

    #[test]
    fn every_valid_event_round_trips() {
        // Exhaustive over the enumerated bytes, with edge values in the integer fields.
        for kind in 0..=255u8 {
            for outcome in 0..=255u8 {
                let mut b = CALL;
                b[0..8].copy_from_slice(&u64::MAX.to_le_bytes());
                b[16..20].copy_from_slice(&u32::MAX.to_le_bytes());
                b[24] = kind;
                b[25] = outcome;
                let valid = (kind == 0 && outcome == 0) || (kind == 1 && outcome < 4);
                match EventRepr::parse(&b) {
                    Ok(e) => {
                        assert!(valid);
                        let mut out = [0u8; 32];
                        e.emit(&mut out).unwrap();
                        assert_eq!(out, b);
                    }
                    Err(_) => assert!(!valid),
                }
            }
        }
    }

    #[test]
    fn batch_reports_first_bad_index() {
        let mut stream = [0u8; 32 * 5];
        for i in 0..5 {
            let e =
                EventRepr { seq: i as u64, time_us: 10 * i as u64, agent: i, command: rm(), outcome: None };
            e.emit(&mut stream[i as usize * 32..]).unwrap();
        }
        let mut seen = [0u64; 5];
        let mut n = 0;
        assert_eq!(
            parse_events(&stream, |e| {
                seen[n] = e.seq;
                n += 1
            }),
            Ok(5)
        );
        assert_eq!(seen, [0, 1, 2, 3, 4]);
        stream[3 * 32 + 24] = 9;
        let mut n = 0;
        assert_eq!(
            parse_events(&stream, |_| n += 1),
            Err(BatchError { index: 3, error: RecordError::UnknownKind(9) })
        );
        assert_eq!(n, 3, "records before the bad one are delivered");
        let mut n = 0;
        assert_eq!(
            parse_events(&stream[..2 * 32 + 5], |_| n += 1),
            Err(BatchError { index: 2, error: RecordError::Truncated { needed: 32, got: 5 } })
        );
        assert_eq!(n, 2);
        let (whole, tail) = events_in(&stream[..70]);
        assert_eq!((whole.len(), tail.len()), (2, 6));
    }

    #[test]
    fn decision_batch_in_place() {
        let mut out = [0u8; 32 * 3 + 7];
        {
            let slots = decisions_in_mut(&mut out);
            assert_eq!(slots.len(), 3);
            for (i, s) in slots.iter_mut().enumerate() {
                let mut d = DecisionRepr::parse(&DECISION).unwrap();
                d.seq = i as u64;
                *s = d.to_raw();
            }
        }
        let mut seqs = [9u64; 3];
        assert_eq!(parse_decisions(&out[..96], |d| seqs[d.seq as usize] = d.seq), Ok(3));
        assert_eq!(seqs, [0, 1, 2]);
        assert!(matches!(
            parse_decisions(&out, |_| {}),
            Err(BatchError { index: 3, error: RecordError::Truncated { .. } })
        ));
    }
}
