//! docs/FORMAT.md §6 (stream records) and `tcap_core::wire::record` agree: the documented hex fixtures decode to the
//! documented values and re-encode to the same bytes.

use tcap_core::network::NodeState;
use tcap_core::wire::Risk;
use tcap_core::wire::record::{
    AgentState, Decision, DecisionRepr, EventRepr, Outcome, StreamHeader, StreamKind,
};

/// Section 6 of docs/FORMAT.md (stream records), up to section 7.
fn records_section() -> String {
    let doc = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/FORMAT.md")).unwrap();
    let start = doc.find("\n## 6. Stream records").expect("docs/FORMAT.md has section 6");
    let end = doc[start..].find("\n## 7.").map_or(doc.len(), |e| start + e);
    doc[start..end].to_string()
}

/// The hex lines inside fenced code blocks of docs/FORMAT.md §6, spaces removed.
fn fixtures() -> Vec<Vec<u8>> {
    let doc = records_section();
    let mut out = Vec::new();
    let mut inside = false;
    for line in doc.lines() {
        if line.starts_with("```") {
            inside = !inside;
            continue;
        }
        if inside {
            let hex: String = line.chars().filter(|c| !c.is_whitespace()).collect();
            if !hex.is_empty() && hex.chars().all(|c| c.is_ascii_hexdigit()) {
                out.push(
                    (0..hex.len())
                        .step_by(2)
                        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
                        .collect(),
                );
            }
        }
    }
    out
}

#[test]
fn documented_fixtures_decode_as_documented() {
    let f = fixtures();
    assert_eq!(f.len(), 3, "three record fixtures in docs/FORMAT.md §6");
    let rm = tcap_core::wire::command_id(b"rm");
    let call = EventRepr::parse(&f[0]).unwrap();
    assert_eq!(call, EventRepr { seq: 42, time_us: 1_000_000, agent: 7, command: rm, outcome: None });
    let outcome = EventRepr::parse(&f[1]).unwrap();
    assert_eq!(
        outcome,
        EventRepr { seq: 43, time_us: 1_000_250, agent: 7, command: rm, outcome: Some(Outcome::Timeout) }
    );
    let d = DecisionRepr::parse(&f[2]).unwrap();
    assert_eq!(
        d,
        DecisionRepr {
            seq: 42,
            agent: 7,
            command: rm,
            decision: Decision::Deny,
            risk: Risk::Critical,
            agent_state: AgentState::Restricted,
            net_state: NodeState::Suspicious,
            score: -1234,
            reasons: 0x11,
        }
    );
    let mut buf = [0u8; 32];
    call.emit(&mut buf).unwrap();
    assert_eq!(buf[..], f[0][..]);
    outcome.emit(&mut buf).unwrap();
    assert_eq!(buf[..], f[1][..]);
    d.emit(&mut buf).unwrap();
    assert_eq!(buf[..], f[2][..]);
}

#[test]
fn documented_header_bytes() {
    let doc = records_section();
    let line = doc.lines().find(|l| l.starts_with("Event header:")).unwrap();
    let hex: String = line["Event header:".len()..]
        .split('(')
        .next()
        .unwrap()
        .chars()
        .filter(|c| c.is_ascii_hexdigit())
        .collect();
    let bytes: Vec<u8> =
        (0..hex.len()).step_by(2).map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap()).collect();
    assert_eq!(bytes, StreamHeader::EVENTS.to_bytes());
    assert_eq!(StreamHeader::parse(&bytes, StreamKind::Events), Ok(StreamHeader::EVENTS));
}
