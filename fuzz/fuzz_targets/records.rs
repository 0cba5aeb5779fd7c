//! tcap's event and decision records and stream headers. Invariants: nothing panics; whatever parses
//! re-emits to the identical bytes; batch parsing agrees with record-by-record parsing and reports the
//! first bad index; the zero-copy views agree with the `Repr`s.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tcap_core::wire::record::{
    DECISION_LEN, DecisionRecord, DecisionRepr, EVENT_LEN, EventRecord, EventRepr, HEADER_LEN, RecordError,
    StreamHeader, StreamHeaderView, StreamKind, parse_decisions, parse_events,
};

fuzz_target!(|data: &[u8]| {
    for kind in [StreamKind::Events, StreamKind::Decisions] {
        match StreamHeader::parse(data, kind) {
            Ok(h) => assert_eq!(h.to_bytes()[..], data[..HEADER_LEN]),
            Err(e) => {
                let _ = std::format!("{e}");
                if data.len() < HEADER_LEN {
                    assert!(matches!(e, RecordError::Truncated { .. }));
                }
            }
        }
    }
    if let Ok(v) = StreamHeaderView::new_checked(data) {
        let _ = (v.magic(), v.version(), v.record_size(), v.flags());
    }

    match EventRepr::parse(data) {
        Ok(ev) => {
            let mut out = [0u8; EVENT_LEN];
            ev.emit(&mut out).unwrap();
            assert_eq!(out[..], data[..EVENT_LEN]);
            let view = EventRecord::new_checked(data).unwrap();
            assert_eq!(
                (view.seq(), view.time_us(), view.agent(), view.command()),
                (ev.seq, ev.time_us, ev.agent, ev.command)
            );
            assert_eq!(view.kind_byte(), ev.kind() as u8);
            assert_eq!(EventRepr::from_raw(&ev.to_raw()), Ok(ev));
        }
        Err(e) => {
            let _ = std::format!("{e}");
        }
    }
    match DecisionRepr::parse(data) {
        Ok(d) => {
            let mut out = [0u8; DECISION_LEN];
            d.emit(&mut out).unwrap();
            assert_eq!(out[..], data[..DECISION_LEN]);
            let view = DecisionRecord::new_checked(data).unwrap();
            assert_eq!(
                (view.seq(), view.agent(), view.command(), view.score(), view.reasons()),
                (d.seq, d.agent, d.command, d.score, d.reasons)
            );
            assert_eq!(view.decision_byte(), d.decision as u8);
        }
        Err(e) => {
            let _ = std::format!("{e}");
        }
    }

    // Batches: the same bytes as a run of events and as a run of decisions.
    let mut seen = 0usize;
    let r = parse_events(data, |ev| {
        let at = seen * EVENT_LEN;
        assert_eq!(EventRepr::parse(&data[at..]), Ok(ev));
        seen += 1;
    });
    match r {
        Ok(n) => {
            assert_eq!(n, seen);
            assert_eq!(n * EVENT_LEN, data.len());
        }
        Err(b) => {
            assert_eq!(b.index, seen, "records before the bad one were all delivered");
            let at = b.index * EVENT_LEN;
            assert_eq!(EventRepr::parse(&data[at.min(data.len())..]).err(), Some(b.error));
            let _ = std::format!("{b}");
        }
    }
    let mut seen = 0usize;
    let r = parse_decisions(data, |d| {
        assert_eq!(DecisionRepr::parse(&data[seen * DECISION_LEN..]), Ok(d));
        seen += 1;
    });
    match r {
        Ok(n) => assert_eq!((n, n * DECISION_LEN), (seen, data.len())),
        Err(b) => {
            assert_eq!(b.index, seen);
            let at = b.index * DECISION_LEN;
            assert_eq!(DecisionRepr::parse(&data[at.min(data.len())..]).err(), Some(b.error));
        }
    }
});
