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
use tcap::engine::{
    TCAP_ENGINE_ALIGN, tcap_config, tcap_config_default, tcap_engine, tcap_engine_check,
    tcap_engine_check_name, tcap_engine_init, tcap_engine_observe, tcap_engine_size, tcap_verdict,
};
use tcap::enums::{
    tcap_agent_status_name, tcap_decision_name, tcap_node_state_is_blocked, tcap_node_state_name,
};
use tcap::registry::{tcap_registry, tcap_registry_len, tcap_registry_open};
use tcap::result::tcap_result_str;
use tcap::version::{TCAP_VERSION_NUMBER, tcap_version, tcap_version_number};
use tcap::wire::{tcap_command_id, tcap_flags_risk, tcap_kb_flags_to_canonical};
use tcap::{enums::tcap_risk_name, tcap_node_state, tcap_result, tcap_risk};
use tcap::{tcap_agent_status, tcap_decision, tcap_outcome};

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

    risk
}

// ---- GATE: the real gate, with a registry and a handful of agents, on static memory ------------------

/// 64-byte alignment for the registry image (each bucket one cache line; any alignment would do).
#[repr(C, align(64))]
struct Aligned<T: ?Sized>(T);

/// The firmware's registry: a compact image of the `firmware/REGISTRY.txt` rows of the built-in
/// registry's source, built by build.rs with tcap-core's builder. (The full built-in image is 36 KiB; with
/// the gate's code it would not fit the 48 KiB flash budget.)
static REGISTRY_IMAGE: &Aligned<[u8]> = &Aligned(*include_bytes!(concat!(env!("OUT_DIR"), "/registry.bin")));

/// Agents of the scripted session.
const N_AGENTS: u32 = 4;

/// The engine's memory: static, 64-byte aligned, never allocated. `tcap_engine_size(4)` must fit.
#[repr(C, align(64))]
struct EngineMem([u8; 1024]);
const _: () = assert!(core::mem::align_of::<EngineMem>() == TCAP_ENGINE_ALIGN);

static mut ENGINE_MEM: EngineMem = EngineMem([0; 1024]);

/// One scripted tool call for the gate and the decision it must get (`None`: only "never allow").
struct GateCall {
    agent: u32,
    name: &'static str,
    expect: Option<tcap_decision>,
}

const fn gc(agent: u32, name: &'static str, expect: tcap_decision) -> GateCall {
    GateCall { agent, name, expect: Some(expect) }
}

const GATE_SCRIPT: &[GateCall] = &[
    // Agent 0 builds and reads: allowed.
    gc(0, "ls", tcap_decision::Allow),
    gc(0, "git status", tcap_decision::Allow),
    gc(0, "grep", tcap_decision::Allow),
    // Agent 1 reaches out and escalates privileges: watched, then held for approval.
    gc(1, "curl", tcap_decision::Caution),
    gc(1, "sudo", tcap_decision::RequireApproval),
    // Agent 2 asks for a command nobody registered: never allowed (unknown is not safe).
    gc(2, "frobnicate", tcap_decision::RequireApproval),
    // Agent 3 warms up calmly ...
    gc(3, "ls", tcap_decision::Allow),
    gc(3, "cat", tcap_decision::Allow),
    gc(3, "ls", tcap_decision::Allow),
    gc(3, "grep", tcap_decision::Allow),
    gc(3, "ls", tcap_decision::Allow),
    gc(3, "cat", tcap_decision::Allow),
];

/// ... then turns to destructive tools, each refused by the host: it must climb to quarantine.
const HOSTILE: &[&str] = &[
    "rm", "dd", "sudo", "mkfs", "rm", "shred", "dd", "chmod", "rm", "sudo", "kill", "rm", "dd", "mkfs", "rm",
    "sudo",
];

fn print_verdict(agent: u32, name: &str, v: &tcap_verdict) {
    hprintln!(
        "gate  agent={} {:<11} risk={:<11} decision={:<16} agent={:<11} score={}",
        agent,
        name,
        text(tcap_risk_name(v.risk as u32)),
        text(tcap_decision_name(v.decision as u32)),
        text(tcap_agent_status_name(v.agent_state as u32)),
        v.score
    );
}

fn blank_verdict() -> tcap_verdict {
    tcap_verdict {
        decision: tcap_decision::Quarantine,
        risk: tcap_risk::Unknown,
        agent_state: tcap_agent_status::Quarantined,
        net_state: tcap_node_state::Isolated,
        score: -1,
        reasons: 0,
    }
}

/// Runs the gate over the scripted session through the C ABI, checking every decision.
fn gate(t: &mut Tally) {
    let mut reg = tcap_registry { opaque: [0; 16] };
    let mut n_commands = 0usize;
    let image = &REGISTRY_IMAGE.0;
    // SAFETY: the image is static (it outlives the handle and the engine) and never modified; `reg` is a
    // live local. Opening validates it in full (CRC-32C, every bucket and record).
    let rc = unsafe { tcap_registry_open(image.as_ptr(), image.len(), &mut reg) };
    t.check(rc == tcap_result::Ok, "tcap_registry_open");
    // SAFETY: live locals.
    let rc = unsafe { tcap_registry_len(&reg, &mut n_commands) };
    t.check(rc == tcap_result::Ok && n_commands > 0, "tcap_registry_len");

    // A configuration that escalates within this short script.
    // SAFETY: a zeroed `tcap_config` is a valid value (integers only), then overwritten by the defaults.
    let mut cfg: tcap_config = unsafe { core::mem::zeroed() };
    // SAFETY: a live local.
    let rc = unsafe { tcap_config_default(&mut cfg) };
    t.check(rc == tcap_result::Ok, "tcap_config_default");
    cfg.warmup_calls = 4;
    cfg.warmup_outcomes = 2;
    cfg.up_q16 = [2 << 16, 4 << 16, 6 << 16];
    cfg.down_q16 = [1 << 16, 3 << 16, 5 << 16];

    let mut size = 0usize;
    let mut engine: *mut tcap_engine = core::ptr::null_mut();
    let mem = &raw mut ENGINE_MEM;
    // SAFETY: `ENGINE_MEM` is used only here, through this raw pointer, by the one thread there is; it is
    // static, so it outlives the engine; `reg` and `cfg` are live locals.
    let rc = unsafe {
        let rc = tcap_engine_size(N_AGENTS, &mut size);
        t.check(rc == tcap_result::Ok && size <= 1024, "tcap_engine_size");
        tcap_engine_init(mem.cast(), core::mem::size_of::<EngineMem>(), N_AGENTS, &reg, &cfg, &mut engine)
    };
    t.check(rc == tcap_result::Ok, "tcap_engine_init");
    hprintln!(
        "gate: registry image of {} commands ({} bytes), {} agents in {} bytes of static RAM",
        n_commands,
        image.len(),
        N_AGENTS,
        size
    );
    if rc != tcap_result::Ok {
        return;
    }

    let mut now: u64 = 1_000_000;
    for c in GATE_SCRIPT {
        now += 2_000_000;
        let mut v = blank_verdict();
        // SAFETY: `engine` is the live handle from above; the name is a live &str; `v` a live local.
        let rc =
            unsafe { tcap_engine_check_name(engine, now, c.agent, c.name.as_ptr(), c.name.len(), &mut v) };
        t.check(rc == tcap_result::Ok, "tcap_engine_check_name");
        print_verdict(c.agent, c.name, &v);
        if let Some(want) = c.expect {
            t.check(v.decision == want, c.name);
        }
        t.check(v.decision != tcap_decision::Allow || v.risk != tcap_risk::Unknown, "unknown never allowed");
        let outcome = if v.decision.permits() { tcap_outcome::Success } else { tcap_outcome::Denied };
        // SAFETY: as above.
        let rc = unsafe { tcap_engine_observe(engine, now + 1_000, c.agent, outcome as u32) };
        t.check(rc == tcap_result::Ok, "tcap_engine_observe");
    }

    let mut last = tcap_agent_status::Trusted;
    for name in HOSTILE {
        now += 100_000;
        let mut v = blank_verdict();
        let mut id = 0u32;
        // SAFETY: as above; `id` is a live local.
        let rc = unsafe {
            let rc = tcap_command_id(name.as_ptr(), name.len(), &mut id);
            t.check(rc == tcap_result::Ok, "tcap_command_id");
            tcap_engine_check(engine, now, 3, id, &mut v)
        };
        t.check(rc == tcap_result::Ok, "tcap_engine_check");
        print_verdict(3, name, &v);
        t.check(!v.decision.permits(), "a destructive call is never run unapproved");
        t.check(v.agent_state >= last, "status never falls while evidence piles up");
        last = v.agent_state;
        // SAFETY: as above.
        let rc = unsafe { tcap_engine_observe(engine, now + 50_000, 3, tcap_outcome::Denied as u32) };
        t.check(rc == tcap_result::Ok, "tcap_engine_observe");
    }
    t.check(last == tcap_agent_status::Quarantined, "the hostile agent ends quarantined");

    // Quarantined: even `ls` is refused; the others are unaffected.
    for (agent, want) in [(3, tcap_decision::Quarantine), (0, tcap_decision::Allow)] {
        let mut v = blank_verdict();
        // SAFETY: as above.
        let rc = unsafe { tcap_engine_check_name(engine, now + 1, agent, b"ls".as_ptr(), 2, &mut v) };
        t.check(rc == tcap_result::Ok && v.decision == want, "after quarantine");
        print_verdict(agent, "ls", &v);
    }
    // An agent the engine was not sized for is an error value, not a fault.
    let mut v = blank_verdict();
    // SAFETY: as above.
    let rc = unsafe { tcap_engine_check(engine, now + 2, N_AGENTS, 0, &mut v) };
    t.check(rc == tcap_result::AgentOutOfRange, "agent out of range");
    hprintln!("gate: agent {} -> {}", N_AGENTS, text(tcap_result_str(rc as u32)));
}

#[entry]
fn main() -> ! {
    let mut t = Tally { passed: 0, failed: 0 };
    hprintln!("tcap firmware {} on Cortex-M4F (mps2-an386)", text(tcap_version()));
    t.check(tcap_version_number() == TCAP_VERSION_NUMBER, "library version = header version");

    for call in SCRIPT {
        run(call, &mut t);
    }
    gate(&mut t);

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
