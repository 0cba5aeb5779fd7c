//! tcap on a Cortex-M4F (QEMU `mps2-an386`): a scripted sequence of agents' tool calls goes through the
//! no_std C ABI of `tcap-ffi`, each verdict is printed over semihosting, and the firmware exits with the
//! test's status (semihosting `SYS_EXIT`), which QEMU passes on as its own exit status.
//!
//! The calls are made through the `extern "C"` functions themselves (`tcap::...::tcap_*`), exactly as a C
//! firmware would call them, so this also proves the ABI links and runs without std, an allocator or an
//! OS.
#![no_std]
#![no_main]

use core::ffi::{CStr, c_char};

use cortex_m_rt::entry;
use cortex_m_semihosting::{debug, hprintln};
use tcap::enums::{tcap_node_state_is_blocked, tcap_node_state_name};
use tcap::result::tcap_result_str;
use tcap::version::{TCAP_VERSION_NUMBER, tcap_version, tcap_version_number};
use tcap::wire::{tcap_command_id, tcap_flags_risk, tcap_kb_flags_to_canonical};
use tcap::{enums::tcap_risk_name, tcap_node_state, tcap_result, tcap_risk};

/// Which upstream flag map a descriptor's flags use.
#[derive(Clone, Copy)]
enum Map {
    /// The spec map (CRC-32-low-16 descriptors).
    Spec,
    /// The knowledge-base map (byte-sum descriptors, the real corpus).
    Kb,
}

/// One scripted tool call: an agent asks to run `name`, whose descriptor (if the registry has one) is
/// `desc`. `expect` is the risk the gate must see.
struct Call {
    agent: u32,
    name: &'static str,
    desc: Option<(&'static [u8; 24], Map)>,
    expect: tcap_risk,
}

// Real upstream descriptors (24 bytes; id at 6..10 and flags at 10..14, big-endian).
const RM_SPEC: [u8; 24] = hex24(b"544350020002d67f249b000006d0271003e800320002ef04");
const CAT_SPEC: [u8; 24] = hex24(b"544350020002d077f2440000000201f40032001a00032048");
const RM_KB: [u8; 24] = hex24(b"544350020002d67f249b0000170400000064000a00010389");
const LS_KB: [u8; 24] = hex24(b"54435002000244ba5ca60000050100000064000a00010360");

const SCRIPT: &[Call] = &[
    Call { agent: 1, name: "ls", desc: Some((&LS_KB, Map::Kb)), expect: tcap_risk::Safe },
    Call { agent: 1, name: "cat", desc: Some((&CAT_SPEC, Map::Spec)), expect: tcap_risk::Low },
    Call { agent: 2, name: "rm", desc: Some((&RM_KB, Map::Kb)), expect: tcap_risk::Medium },
    Call { agent: 2, name: "rm", desc: Some((&RM_SPEC, Map::Spec)), expect: tcap_risk::Critical },
    // No descriptor: tcap fails closed, the risk is UNKNOWN, never SAFE.
    Call { agent: 3, name: "curl", desc: None, expect: tcap_risk::Unknown },
];

const fn hex24(s: &[u8; 48]) -> [u8; 24] {
    const fn nib(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("not a lower-case hex digit"),
        }
    }
    let mut out = [0u8; 24];
    let mut i = 0;
    while i < 24 {
        out[i] = (nib(s[2 * i]) << 4) | nib(s[2 * i + 1]);
        i += 1;
    }
    out
}

fn be32(b: &[u8; 24], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn text(p: *const c_char) -> &'static str {
    // SAFETY: every tcap string function returns a non-NULL pointer to a static NUL-terminated ASCII
    // string that lives as long as the program.
    unsafe { CStr::from_ptr(p) }.to_str().unwrap_or("?")
}

struct Tally {
    passed: u32,
    failed: u32,
}

impl Tally {
    fn check(&mut self, ok: bool, what: &str) {
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
            hprintln!("FAIL {}", what);
        }
    }
}

/// Runs one call through the ABI; returns the risk the gate would be given.
fn run(call: &Call, t: &mut Tally) -> tcap_risk {
    let mut id = 0u32;
    // SAFETY: `name` is a live &str of `len` bytes; `id` is a live, aligned u32.
    let rc = unsafe { tcap_command_id(call.name.as_ptr(), call.name.len(), &mut id) };
    t.check(rc == tcap_result::Ok, "tcap_command_id");
    let flags = match call.desc {
        Some((d, map)) => {
            t.check(be32(d, 6) == id, "command id matches the descriptor");
            let raw = be32(d, 10);
            match map {
                Map::Spec => raw,
                Map::Kb => {
                    let mut canon = 0u32;
                    // SAFETY: `canon` is a live, aligned u32.
                    let rc = unsafe { tcap_kb_flags_to_canonical(raw, &mut canon) };
                    t.check(rc == tcap_result::Ok, "knowledge-base flags normalise");
                    canon
                }
            }
        }
        // Not in the registry: no flags, so no risk bit: UNKNOWN.
        None => 0,
    };
    let risk = tcap_flags_risk(flags);
    t.check(risk == call.expect, call.name);
    hprintln!(
        "{:<5} agent={} id={:08x} flags={:#010x} risk={}",
        call.name,
        call.agent,
        id,
        flags,
        text(tcap_risk_name(risk as u32))
    );

    // ------------------------------------------------------------------------------------------------
    // GATE: when the registry image, the behaviour engine and the gate are merged, this is where the
    // call is decided:
    //   static mut ENGINE_MEM: [u8; N] (aligned, N from tcap_engine_size(4 agents));
    //   tcap_registry_builtin(&reg); tcap_engine_init(ENGINE_MEM, N, &reg, &cfg, &engine);
    //   tcap_engine_check(engine, call.agent, id, now, &verdict);  hprintln!("verdict={}", ...);
    //   tcap_engine_observe(engine, call.agent, ...);
    // and the script grows an agent that turns hostile and must end up quarantined.
    // ------------------------------------------------------------------------------------------------
    risk
}

#[entry]
fn main() -> ! {
    let mut t = Tally { passed: 0, failed: 0 };
    hprintln!("tcap firmware {} on Cortex-M4F (mps2-an386)", text(tcap_version()));
    t.check(tcap_version_number() == TCAP_VERSION_NUMBER, "library version = header version");

    for call in SCRIPT {
        run(call, &mut t);
    }

    // Errors are values here too: no panic, no fault.
    let mut id = 7u32;
    // SAFETY: NULL name with a live output, then a live name with length 0: both refused without access.
    let (null_rc, empty_rc) = unsafe {
        (tcap_command_id(core::ptr::null(), 2, &mut id), tcap_command_id(b"rm".as_ptr(), 0, &mut id))
    };
    t.check(
        null_rc == tcap_result::NullArgument && empty_rc == tcap_result::InvalidLength && id == 7,
        "errors",
    );
    hprintln!("NULL name -> {}", text(tcap_result_str(null_rc as u32)));
    // A quarantined node is blocked: none of its calls may run.
    let mut blocked = false;
    // SAFETY: `blocked` is a live bool.
    let rc = unsafe { tcap_node_state_is_blocked(tcap_node_state::Quarantined as u32, &mut blocked) };
    t.check(rc == tcap_result::Ok && blocked, "quarantined is blocked");
    hprintln!(
        "node state {}: blocked={}",
        text(tcap_node_state_name(tcap_node_state::Quarantined as u32)),
        blocked
    );

    hprintln!("firmware: {} passed, {} failed", t.passed, t.failed);
    debug::exit(if t.failed == 0 { debug::EXIT_SUCCESS } else { debug::EXIT_FAILURE });
    #[allow(clippy::empty_loop)]
    loop {}
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    hprintln!("firmware panic: {}", info);
    debug::exit(debug::EXIT_FAILURE);
    #[allow(clippy::empty_loop)]
    loop {}
}
