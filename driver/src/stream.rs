//! Incremental event-stream decoding, shared by every I/O path.
//!
//! A [`Decoder`] is fed the bytes of one event stream in whatever pieces the I/O delivered them (a
//! 512 KiB file read, a 3-byte socket read), validates the header once, carries a partial record
//! across pieces, runs every whole record through the [`Engine`] and writes the decisions (preceded by
//! the decision-stream header) into the caller's output buffer. Errors carry the absolute byte offset
//! in the input stream.

use core::fmt;

use tcap_core::wire::record::{
    self, DECISION_LEN, EVENT_LEN, EventRepr, HEADER_LEN, RecordError, StreamHeader, StreamKind,
};

use crate::engine::Engine;

/// What went wrong in a stream, and where.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamError {
    /// Byte offset in the input stream of the header or record that was refused.
    pub offset: u64,
    /// Why.
    pub kind: StreamErrorKind,
}

/// The reasons a stream is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StreamErrorKind {
    /// The stream header was refused.
    Header(RecordError),
    /// A record was refused.
    Record(RecordError),
    /// The stream ended inside the header.
    TruncatedHeader {
        /// Header bytes received.
        got: usize,
    },
    /// The stream ended inside a record.
    TruncatedRecord {
        /// Record bytes received.
        got: usize,
    },
}

impl fmt::Display for StreamError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "offset {}: ", self.offset)?;
        match self.kind {
            StreamErrorKind::Header(e) => write!(f, "stream header: {e}"),
            StreamErrorKind::Record(e) => write!(f, "record {}: {e}", self.record_index()),
            StreamErrorKind::TruncatedHeader { got } => {
                write!(f, "stream ends inside the header ({got} of {HEADER_LEN} bytes)")
            }
            StreamErrorKind::TruncatedRecord { got } => {
                write!(f, "stream ends inside record {} ({got} of {EVENT_LEN} bytes)", self.record_index())
            }
        }
    }
}

impl StreamError {
    /// Index of the record at [`StreamError::offset`] (meaningless for header errors).
    pub fn record_index(&self) -> u64 {
        self.offset.saturating_sub(HEADER_LEN as u64) / EVENT_LEN as u64
    }
}

impl std::error::Error for StreamError {}

/// Counters the decoder keeps as it goes (cheap: updated once per piece, not per record).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DecodeCounts {
    /// Events accepted.
    pub events: u64,
    /// Of which outcome events.
    pub outcomes: u64,
    /// Decisions written, by decision code.
    pub decisions: [u64; 5],
}

impl DecodeCounts {
    /// Adds what `now` counted since `before` (both readings of one decoder's counters).
    pub fn add_since(&mut self, before: &DecodeCounts, now: &DecodeCounts) {
        self.events += now.events - before.events;
        self.outcomes += now.outcomes - before.outcomes;
        for ((a, n), b) in self.decisions.iter_mut().zip(now.decisions).zip(before.decisions) {
            *a += n - b;
        }
    }
}

/// Incremental decoder of one event stream. See the module docs.
#[derive(Clone, Debug, Default)]
pub struct Decoder {
    offset: u64,
    header: [u8; HEADER_LEN],
    header_len: usize,
    carry: [u8; EVENT_LEN],
    carry_len: usize,
    header_emitted: bool,
    failed: Option<StreamError>,
    /// Running counters.
    pub counts: DecodeCounts,
}

/// The output buffer size that [`Decoder::feed`] needs for an input piece of `input_len` bytes.
pub const fn max_output(input_len: usize) -> usize {
    // Decisions are never more than events, one carried record may complete, plus the header.
    input_len / EVENT_LEN * DECISION_LEN + DECISION_LEN + HEADER_LEN
}

const _: () = assert!(DECISION_LEN <= EVENT_LEN);

impl Decoder {
    /// A decoder at the start of a stream.
    pub fn new() -> Decoder {
        Decoder::default()
    }

    /// Bytes of input consumed so far; after a bad header or record, the offset of that header or record
    /// (the same however the input was split into pieces).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The error that stopped this stream, if any.
    pub fn error(&self) -> Option<StreamError> {
        self.failed
    }

    /// Whether the decision header has been written (i.e. the event header was accepted).
    pub fn header_done(&self) -> bool {
        self.header_emitted
    }

    /// [`Decoder::feed`] appending to `out` (grown by [`max_output`] first, truncated to what was
    /// written): returns the bytes appended and the error, as `feed` does.
    pub fn feed_vec<E: Engine>(
        &mut self,
        input: &[u8],
        engine: &mut E,
        out: &mut Vec<u8>,
    ) -> (usize, Option<StreamError>) {
        let start = out.len();
        out.resize(start + max_output(input.len()), 0);
        let (w, err) = self.feed(input, engine, &mut out[start..]);
        out.truncate(start + w);
        (w, err)
    }

    /// Feeds the next piece of input. Writes decisions into `out` (which must hold at least
    /// [`max_output`]`(input.len())` bytes) and returns how many bytes were written. On a bad header or
    /// record, the decisions for every record before it are still written, and the error is returned in
    /// the second field (and every later call returns it again without consuming anything).
    pub fn feed<E: Engine>(
        &mut self,
        mut input: &[u8],
        engine: &mut E,
        out: &mut [u8],
    ) -> (usize, Option<StreamError>) {
        if let Some(e) = self.failed {
            return (0, Some(e));
        }
        assert!(out.len() >= max_output(input.len()), "output buffer smaller than max_output(input)");
        let mut written = 0;
        if self.header_len < HEADER_LEN {
            let take = (HEADER_LEN - self.header_len).min(input.len());
            self.header[self.header_len..self.header_len + take].copy_from_slice(&input[..take]);
            self.header_len += take;
            input = &input[take..];
            if self.header_len < HEADER_LEN {
                self.offset += take as u64;
                return (0, None);
            }
            if let Err(e) = StreamHeader::parse(&self.header, StreamKind::Events) {
                let err = StreamError { offset: 0, kind: StreamErrorKind::Header(e) };
                // Nothing was accepted: the offset is the refused header's, however the bytes arrived.
                self.offset = 0;
                self.failed = Some(err);
                return (0, Some(err));
            }
            self.offset = HEADER_LEN as u64;
            out[..HEADER_LEN].copy_from_slice(&StreamHeader::DECISIONS.to_bytes());
            self.header_emitted = true;
            written = HEADER_LEN;
        }
        if self.carry_len > 0 {
            let take = (EVENT_LEN - self.carry_len).min(input.len());
            self.carry[self.carry_len..self.carry_len + take].copy_from_slice(&input[..take]);
            self.carry_len += take;
            input = &input[take..];
            if self.carry_len < EVENT_LEN {
                return (written, None);
            }
            self.carry_len = 0;
            let carry = self.carry;
            let (n, err) = self.run(&carry, engine, &mut out[written..]);
            written += n;
            if err.is_some() {
                return (written, err);
            }
        }
        let whole = input.len() / EVENT_LEN * EVENT_LEN;
        let (n, err) = self.run(&input[..whole], engine, &mut out[written..]);
        written += n;
        if err.is_some() {
            return (written, err);
        }
        let tail = &input[whole..];
        self.carry[..tail.len()].copy_from_slice(tail);
        self.carry_len = tail.len();
        (written, None)
    }

    /// Runs whole records; advances `offset` past those accepted.
    #[inline]
    fn run<E: Engine>(
        &mut self,
        records: &[u8],
        engine: &mut E,
        out: &mut [u8],
    ) -> (usize, Option<StreamError>) {
        let (raws, _) = record::events_in(records);
        let slots = record::decisions_in_mut(out);
        let mut w = 0;
        let mut outcomes = 0u64;
        let mut by_kind = [0u64; 5];
        let mut bad = None;
        let mut done = 0;
        for raw in raws {
            match EventRepr::from_raw(raw) {
                Ok(ev) => {
                    outcomes += ev.outcome.is_some() as u64;
                    if let Some(d) = engine.on_event(&ev) {
                        by_kind[d.decision as usize] += 1;
                        // `out` holds at least one slot per event (max_output), so `w` is in range.
                        slots[w] = d.to_raw();
                        w += 1;
                    }
                    done += 1;
                }
                Err(e) => {
                    bad = Some(e);
                    break;
                }
            }
        }
        self.offset += (done * EVENT_LEN) as u64;
        self.counts.events += done as u64;
        self.counts.outcomes += outcomes;
        for (a, b) in self.counts.decisions.iter_mut().zip(by_kind) {
            *a += b;
        }
        let err = bad.map(|e| StreamError { offset: self.offset, kind: StreamErrorKind::Record(e) });
        self.failed = err;
        (w * DECISION_LEN, err)
    }

    /// Declares the end of the input. Returns an error if it ended inside the header or a record (an
    /// empty stream is fine: it carries no events and gets no decisions).
    pub fn finish(&mut self) -> Result<(), StreamError> {
        if let Some(e) = self.failed {
            return Err(e);
        }
        let err = if self.header_len > 0 && self.header_len < HEADER_LEN {
            Some(StreamError { offset: 0, kind: StreamErrorKind::TruncatedHeader { got: self.header_len } })
        } else if self.carry_len > 0 {
            Some(StreamError {
                offset: self.offset,
                kind: StreamErrorKind::TruncatedRecord { got: self.carry_len },
            })
        } else {
            None
        };
        self.failed = err;
        err.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::TestEngine;
    use tcap_core::wire::record::{DecisionRepr, parse_decisions};

    fn stream(n: u64) -> Vec<u8> {
        let mut v = StreamHeader::EVENTS.to_bytes().to_vec();
        for i in 0..n {
            let ev = EventRepr {
                seq: i,
                time_us: i * 5,
                agent: (i % 7) as u32,
                command: (i as u32).wrapping_mul(2_654_435_761),
                outcome: if i % 3 == 2 { Some(record::Outcome::Error) } else { None },
            };
            let mut b = [0u8; EVENT_LEN];
            ev.emit(&mut b).unwrap();
            v.extend_from_slice(&b);
        }
        v
    }

    fn decode_in_pieces(input: &[u8], piece: usize) -> (Vec<u8>, Result<(), StreamError>) {
        let mut d = Decoder::new();
        let mut e = TestEngine::new(16);
        let mut out = Vec::new();
        for chunk in input.chunks(piece.max(1)) {
            let mut buf = vec![0u8; max_output(chunk.len())];
            let (n, err) = d.feed(chunk, &mut e, &mut buf);
            out.extend_from_slice(&buf[..n]);
            if let Some(err) = err {
                return (out, Err(err));
            }
        }
        let r = d.finish();
        (out, r)
    }

    #[test]
    fn piece_size_does_not_change_output() {
        let input = stream(100);
        let (whole, r) = decode_in_pieces(&input, input.len());
        r.unwrap();
        let mut n = 0;
        parse_decisions(&whole[HEADER_LEN..], |d: DecisionRepr| {
            assert_ne!(d.seq % 3, 2, "outcomes get no decision");
            n += 1;
        })
        .unwrap();
        assert_eq!(n, 67);
        for piece in [1, 3, 15, 16, 17, 31, 32, 33, 100, 1000] {
            let (o, r) = decode_in_pieces(&input, piece);
            r.unwrap();
            assert_eq!(o, whole, "piece size {piece}");
        }
    }

    /// Fuzz finding (fuzz target `stream`): after a bad header, `offset()` was 0 when the header
    /// arrived in one piece but 15 when it arrived a byte at a time.
    #[test]
    fn offset_after_a_bad_header_does_not_depend_on_piece_sizes() {
        let mut input = stream(2);
        input[8] = 10; // version 10
        for piece in [1, 7, 15, 16, 1000] {
            let mut d = Decoder::new();
            let mut e = TestEngine::new(4);
            let mut err = None;
            for chunk in input.chunks(piece) {
                let mut buf = vec![0u8; max_output(chunk.len())];
                if let (_, Some(x)) = d.feed(chunk, &mut e, &mut buf) {
                    err = Some(x);
                    break;
                }
            }
            assert_eq!(
                err.map(|e| e.kind),
                Some(StreamErrorKind::Header(RecordError::UnsupportedVersion(10)))
            );
            assert_eq!(d.offset(), 0, "piece size {piece}");
        }
    }

    #[test]
    fn errors_carry_offsets_and_keep_earlier_decisions() {
        let mut input = stream(10);
        let bad_at = HEADER_LEN + 4 * EVENT_LEN;
        input[bad_at + 24] = 7;
        for piece in [1, 5, 32, 1000] {
            let (o, r) = decode_in_pieces(&input, piece);
            let e = r.unwrap_err();
            assert_eq!(e.offset, bad_at as u64);
            assert_eq!(e.kind, StreamErrorKind::Record(RecordError::UnknownKind(7)));
            assert_eq!(e.record_index(), 4);
            // Records 0..4 decided: 0,1,3 are calls (2 is an outcome).
            assert_eq!(o.len(), HEADER_LEN + 3 * DECISION_LEN, "piece {piece}");
        }
        let input = stream(3);
        let (o, r) = decode_in_pieces(&input[..input.len() - 5], 7);
        assert_eq!(
            r.unwrap_err(),
            StreamError {
                offset: (HEADER_LEN + 2 * 32) as u64,
                kind: StreamErrorKind::TruncatedRecord { got: 27 }
            }
        );
        assert_eq!(o.len(), HEADER_LEN + 2 * DECISION_LEN);
        let (o, r) = decode_in_pieces(&input[..9], 4);
        assert_eq!(r.unwrap_err().kind, StreamErrorKind::TruncatedHeader { got: 9 });
        assert!(o.is_empty());
        let mut garbage = input.clone();
        garbage[..8].copy_from_slice(b"GARBAGE!");
        let (o, r) = decode_in_pieces(&garbage, 64);
        assert!(matches!(r.unwrap_err().kind, StreamErrorKind::Header(RecordError::BadMagic { .. })));
        assert!(o.is_empty());
        let (o, r) = decode_in_pieces(&[], 64);
        assert_eq!((o.len(), r), (0, Ok(())));
    }
}
