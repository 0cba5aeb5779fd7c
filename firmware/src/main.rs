//! tcap on a Cortex-M4F (QEMU `mps2-an386`): a scripted sequence of agents' tool calls goes through the
//! no_std C ABI of `tcap-ffi`, each verdict is printed over semihosting, and the firmware exits with the
//! test's status (semihosting `SYS_EXIT`), which QEMU passes on as its own exit status.
//!
//! The calls are made through the `extern "C"` functions themselves (`tcap::...::tcap_*`), exactly as a C
//! firmware would call them, so this also proves the ABI links and runs without std, an allocator or an
//! OS.
//!
//! The registry is the library's full built-in image (`tcap_registry_builtin`: the 577 commands every
//! host gets, looked up by id and by name exactly as there). Flash is the budget (48 KiB, which the
//! linker enforces: memory.x), so the firmware prints with the few bytes of [`Line`] instead of
//! `core::fmt`, links no panic path (every index is a `get`), and prints result codes as numbers
//! rather than linking `tcap_result_str`'s table of texts. docs/C-API.md has the size breakdown.
#![no_std]
#![no_main]

use core::ffi::{CStr, c_char};

use cortex_m_rt::entry;
use cortex_m_semihosting::debug;
use cortex_m_semihosting::hio::{self, HostStream};
use tcap::engine::{
    TCAP_ENGINE_ALIGN, tcap_config, tcap_config_default, tcap_engine, tcap_engine_check,
    tcap_engine_check_name, tcap_engine_init, tcap_engine_observe, tcap_engine_size, tcap_verdict,
};
use tcap::enums::{
    tcap_agent_status_name, tcap_decision_name, tcap_node_state_is_blocked, tcap_node_state_name,
};
use tcap::registry::{
    tcap_entry, tcap_registry, tcap_registry_builtin, tcap_registry_image, tcap_registry_len,
    tcap_registry_lookup_name,
};
use tcap::version::{TCAP_VERSION_NUMBER, tcap_version, tcap_version_number};
use tcap::wire::{tcap_flags_risk, tcap_kb_flags_to_canonical};
use tcap::{enums::tcap_risk_name, tcap_node_state, tcap_result, tcap_risk};
use tcap::{tcap_agent_status, tcap_decision, tcap_outcome};

// ---- output: one line at a time over semihosting, without core::fmt ---------------------------------

/// A line of output being assembled; [`Line::end`] sends it. Longer lines are cut, never a fault.
struct Line {
    out: Option<HostStream>,
    buf: [u8; 120],
    len: usize,
}

impl Line {
    fn new() -> Line {
        Line { out: hio::hstdout().ok(), buf: [0; 120], len: 0 }
    }

    #[inline(never)] // one copy: this is called from everywhere
    fn bytes(&mut self, s: &[u8]) -> &mut Line {
        for &b in s {
            if let Some(slot) = self.buf.get_mut(self.len) {
                *slot = b;
                self.len += 1;
            }
        }
        self
    }

    fn s(&mut self, s: &str) -> &mut Line {
        self.bytes(s.as_bytes())
    }

    /// `s`, then spaces up to `width` bytes (`{:<width}`).
    fn pad(&mut self, s: &[u8], width: usize) -> &mut Line {
        self.bytes(s);
        for _ in s.len()..width {
            self.bytes(b" ");
        }
        self
    }

    /// Decimal.
    fn u(&mut self, mut v: u32) -> &mut Line {
        let mut d = [0u8; 10];
        let mut n = 0;
        for slot in d.iter_mut().rev() {
            *slot = b'0' + (v % 10) as u8;
            v /= 10;
            n += 1;
            if v == 0 {
                break;
            }
        }
        // (`get`, not indexing: the firmware links no panic path, and so no formatting machinery.)
        self.bytes(d.get(d.len() - n..).unwrap_or(&[]))
    }

    /// Signed decimal.
    fn i(&mut self, v: i32) -> &mut Line {
        if v < 0 {
            self.bytes(b"-");
        }
        self.u(v.unsigned_abs())
    }

    /// Eight lower-case hex digits (`{:08x}`).
    fn hex(&mut self, v: u32) -> &mut Line {
        for k in (0..8).rev() {
            self.bytes(&[b"0123456789abcdef"[((v >> (4 * k)) & 0xf) as usize]]);
        }
        self
    }

    /// Ends the line and sends it.
    fn end(&mut self) {
        self.bytes(b"\n");
        if let Some(out) = self.out.as_mut() {
            // Nothing useful to do if the host cannot take it: the exit status still reports.
            let _ = out.write_all(self.buf.get(..self.len).unwrap_or(&self.buf));
        }
        self.len = 0;
    }
}

/// The bytes of a string from the library (printed as they are: no UTF-8 check to link).
fn text(p: *const c_char) -> &'static [u8] {
    // SAFETY: every tcap string function returns a non-NULL pointer to a static NUL-terminated ASCII
    // string that lives as long as the program.
    unsafe { CStr::from_ptr(p) }.to_bytes()
}

struct Tally {
    passed: u32,
    failed: u32,
    line: Line,
}

impl Tally {
    fn check(&mut self, ok: bool, what: &str) {
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
            self.line.s("FAIL ").s(what).end();
        }
    }
}

// ---- the registry -------------------------------------------------------------------------------------

/// Length, number of commands and FNV-1a hash of the registry image build.rs validated in full on the host
/// (`Registry::load`: CRC-32C, every bucket and record, every id = MD5(name)).
const IMAGE_LEN: usize = parse_usize(env!("TCAP_FW_IMAGE_LEN"));
const IMAGE_COMMANDS: usize = parse_usize(env!("TCAP_FW_IMAGE_COMMANDS"));
const IMAGE_FNV: u32 = parse_usize(env!("TCAP_FW_IMAGE_FNV")) as u32;

const fn parse_usize(s: &str) -> usize {
    let b = s.as_bytes();
    let mut v = 0usize;
    let mut i = 0;
    while i < b.len() {
        assert!(b[i].is_ascii_digit(), "not a decimal number");
        v = v * 10 + (b[i] - b'0') as usize;
        i += 1;
    }
    v
}

fn fnv1a(bytes: &[u8]) -> u32 {
    bytes.iter().fold(0x811c_9dc5u32, |h, &b| (h ^ b as u32).wrapping_mul(0x0100_0193))
}

/// Opens the library's built-in registry (O(1)) and checks that its bytes are the ones validated at
/// build time.
fn registry(t: &mut Tally) -> tcap_registry {
    let mut reg = tcap_registry::filled(0);
    let mut n = 0usize;
    let mut ptr: *const u8 = core::ptr::null();
    let mut len = 0usize;
    // SAFETY: `reg` is a live local; the built-in image is static.
    let rc = unsafe { tcap_registry_builtin(&mut reg) };
    t.check(rc == tcap_result::Ok, "tcap_registry_builtin");
    // SAFETY: live locals.
    let rc = unsafe { tcap_registry_len(&reg, &mut n) };
    t.check(rc == tcap_result::Ok && n == IMAGE_COMMANDS, "tcap_registry_len");
    // SAFETY: live locals.
    let rc = unsafe { tcap_registry_image(&reg, &mut ptr, &mut len) };
    t.check(
        rc == tcap_result::Ok && len == IMAGE_LEN && (ptr as usize).is_multiple_of(64),
        "tcap_registry_image",
    );
    let hash = if rc == tcap_result::Ok && !ptr.is_null() {
        // SAFETY: the handle's image: `len` readable static bytes, never modified.
        fnv1a(unsafe { core::slice::from_raw_parts(ptr, len) })
    } else {
        0
    };
    t.check(hash == IMAGE_FNV, "flashed image = the image validated at build time");
    t.line
        .s("registry: built-in, ")
        .u(n as u32)
        .s(" commands, ")
        .u(len as u32)
        .s(" bytes, fnv1a=")
        .hex(hash)
        .end();
    reg
}

/// An entry holding only `id`: the output buffer before a lookup fills it.
fn blank_entry(id: u32) -> tcap_entry {
    tcap_entry {
        id,
        flags: 0,
        risk: tcap_risk::Unknown,
        exec_time_ms: 0,
        memory_mb: 0,
        output_kb: 0,
        name: core::ptr::null(),
        name_len: 0,
    }
}

/// The registry's entry for `name`, or `None` (`TCAP_RESULT_NOT_FOUND`).
fn lookup(reg: &tcap_registry, name: &str, t: &mut Tally) -> Option<tcap_entry> {
    let mut e = blank_entry(0);
    // SAFETY: `reg` is a live handle on the static image; `name` a live &str; `e` a live local.
    let rc = unsafe { tcap_registry_lookup_name(reg, name.as_ptr(), name.len(), &mut e) };
    t.check(rc == tcap_result::Ok || rc == tcap_result::NotFound, "tcap_registry_lookup_name");
    (rc == tcap_result::Ok).then_some(e)
}

// ---- DESCRIPTORS: real upstream descriptors against the registry ------------------------------------

/// Which upstream flag map a descriptor's flags use.
#[derive(Clone, Copy)]
enum Map {
    /// The spec map (CRC-32-low-16 descriptors).
    Spec,
    /// The knowledge-base map (byte-sum descriptors, the real corpus).
    Kb,
}

/// One scripted tool call: an agent asks to run `name`, whose descriptor (if it has one) is `desc`.
/// `expect` is the risk the gate must see.
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

/// Runs one call through the ABI: the registry's id for the name must be the descriptor's (both are
/// MD5(name)); returns the risk the descriptor's flags give.
fn run(reg: &tcap_registry, call: &Call, t: &mut Tally) -> tcap_risk {
    let id = lookup(reg, call.name, t).map_or(0, |e| e.id);
    t.check(id != 0, "the built-in registry has the command");
    let flags = match call.desc {
        Some((d, map)) => {
            t.check(be32(d, 6) == id, "registry id matches the upstream descriptor");
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
        // No descriptor: no flags, so no risk bit: UNKNOWN.
        None => 0,
    };
    let risk = tcap_flags_risk(flags);
    t.check(risk == call.expect, call.name);
    let l = &mut t.line;
    l.pad(call.name.as_bytes(), 5).s(" agent=").u(call.agent).s(" id=").hex(id).s(" flags=0x").hex(flags);
    l.s(" risk=").bytes(text(tcap_risk_name(risk as u32))).end();
    risk
}

// ---- GATE: the real gate, with the built-in registry and a handful of agents, on static memory --------

/// Agents of the scripted session.
const N_AGENTS: u32 = 4;

/// Bytes of engine memory: `tcap_engine_size(4)` must fit (1,152 on a 64-bit host; the gate's state
/// for 4 agents, its configuration, folded tables and policy rows, and the population statistics).
const ENGINE_BYTES: usize = 1536;

/// The engine's memory: static, 64-byte aligned, never allocated.
#[repr(C, align(64))]
struct EngineMem([u8; ENGINE_BYTES]);
const _: () = assert!(core::mem::align_of::<EngineMem>() == TCAP_ENGINE_ALIGN);

static mut ENGINE_MEM: EngineMem = EngineMem([0; ENGINE_BYTES]);

/// One scripted tool call for the gate and the decision it must get.
struct GateCall {
    agent: u32,
    name: &'static str,
    expect: tcap_decision,
}

const fn gc(agent: u32, name: &'static str, expect: tcap_decision) -> GateCall {
    GateCall { agent, name, expect }
}

const GATE_SCRIPT: &[GateCall] = &[
    // Agent 0 builds and reads: allowed (a build is watched).
    gc(0, "ls", tcap_decision::Allow),
    gc(0, "git status", tcap_decision::Allow),
    gc(0, "grep", tcap_decision::Allow),
    gc(0, "kubectl version", tcap_decision::Allow),
    gc(0, "cargo build", tcap_decision::Caution),
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

fn print_verdict(l: &mut Line, agent: u32, name: &str, v: &tcap_verdict) {
    l.s("gate  agent=").u(agent).s(" ").pad(name.as_bytes(), 15);
    l.s(" risk=").pad(text(tcap_risk_name(v.risk as u32)), 11);
    l.s(" decision=").pad(text(tcap_decision_name(v.decision as u32)), 16);
    l.s(" agent=").pad(text(tcap_agent_status_name(v.agent_state as u32)), 11);
    l.s(" score=").i(v.score).end();
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
fn gate(reg: &tcap_registry, t: &mut Tally) {
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
    // Every call's behaviour judged at once: the script follows the status call by call.
    cfg.window = 1;

    let mut size = 0usize;
    let mut engine: *mut tcap_engine = core::ptr::null_mut();
    let mem = &raw mut ENGINE_MEM;
    // SAFETY: `ENGINE_MEM` is used only here, through this raw pointer, by the one thread there is; it is
    // static, so it outlives the engine; `reg` (on the static built-in image) and `cfg` are live.
    let rc = unsafe {
        let rc = tcap_engine_size(N_AGENTS, &mut size);
        t.check(rc == tcap_result::Ok && size <= ENGINE_BYTES, "tcap_engine_size");
        tcap_engine_init(mem.cast(), core::mem::size_of::<EngineMem>(), N_AGENTS, reg, &cfg, &mut engine)
    };
    t.check(rc == tcap_result::Ok, "tcap_engine_init");
    t.line.s("gate: ").u(N_AGENTS).s(" agents in ").u(size as u32).s(" bytes of static RAM").end();
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
        print_verdict(&mut t.line, c.agent, c.name, &v);
        t.check(v.decision == c.expect, c.name);
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
        // By id, as a host that already holds the tool's descriptor would ask.
        let id = lookup(reg, name, t).map_or(0, |e| e.id);
        // SAFETY: as above.
        let rc = unsafe { tcap_engine_check(engine, now, 3, id, &mut v) };
        t.check(rc == tcap_result::Ok, "tcap_engine_check");
        print_verdict(&mut t.line, 3, name, &v);
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
        print_verdict(&mut t.line, agent, "ls", &v);
    }
    // An agent the engine was not sized for is an error value, not a fault.
    let mut v = blank_verdict();
    // SAFETY: as above.
    let rc = unsafe { tcap_engine_check(engine, now + 2, N_AGENTS, 0, &mut v) };
    t.check(rc == tcap_result::AgentOutOfRange, "agent out of range");
    // Result codes as numbers: `tcap_result_str` would link the text of every code (1.9 KiB of flash).
    t.line.s("gate: agent ").u(N_AGENTS).s(" -> result ").u(rc as u32).s(" (AGENT_OUT_OF_RANGE)").end();
}

#[entry]
fn main() -> ! {
    let mut t = Tally { passed: 0, failed: 0, line: Line::new() };
    t.line.s("tcap firmware ").bytes(text(tcap_version())).s(" on Cortex-M4F (mps2-an386)").end();
    t.check(tcap_version_number() == TCAP_VERSION_NUMBER, "library version = header version");

    let reg = registry(&mut t);
    for call in SCRIPT {
        run(&reg, call, &mut t);
    }
    // A command nobody registered is not found (and so, below, never allowed).
    let unknown = lookup(&reg, "frobnicate", &mut t);
    t.check(unknown.is_none(), "an unregistered command is not found");
    gate(&reg, &mut t);

    // Errors are values here too: no panic, no fault, and the output is untouched.
    let mut e = lookup(&reg, "ls", &mut t).unwrap_or(blank_entry(7));
    let before = e.id;
    // SAFETY: NULL name with a live output, then a live name with length 0: both refused without access.
    let (null_rc, empty_rc) = unsafe {
        (
            tcap_registry_lookup_name(&reg, core::ptr::null(), 2, &mut e),
            tcap_registry_lookup_name(&reg, b"rm".as_ptr(), 0, &mut e),
        )
    };
    t.check(
        null_rc == tcap_result::NullArgument && empty_rc == tcap_result::InvalidLength && e.id == before,
        "errors",
    );
    t.line.s("NULL name -> result ").u(null_rc as u32).s(" (NULL_ARGUMENT)").end();
    // A quarantined node is blocked: none of its calls may run.
    let mut blocked = false;
    // SAFETY: `blocked` is a live bool.
    let rc = unsafe { tcap_node_state_is_blocked(tcap_node_state::Quarantined as u32, &mut blocked) };
    t.check(rc == tcap_result::Ok && blocked, "quarantined is blocked");
    t.line.s("node state ").bytes(text(tcap_node_state_name(tcap_node_state::Quarantined as u32)));
    t.line.s(": blocked=").s(if blocked { "true" } else { "false" }).end();

    let (passed, failed) = (t.passed, t.failed);
    t.line.s("firmware: ").u(passed).s(" passed, ").u(failed).s(" failed").end();
    debug::exit(if failed == 0 { debug::EXIT_SUCCESS } else { debug::EXIT_FAILURE });
    #[allow(clippy::empty_loop)]
    loop {}
}

// ---- interrupt vectors -----------------------------------------------------------------------------

/// One interrupt vector.
#[repr(C)]
pub struct Vector(unsafe extern "C" fn());

unsafe extern "C" {
    /// cortex-m-rt's default handler (`DefaultHandler_` unless the application overrides it).
    fn DefaultHandler();
}

/// External interrupts of the board (QEMU's mps2-an386 wires 32 IRQs to the NVIC), all the default
/// handler: none is enabled. cortex-m-rt's generic table has 240 (960 bytes of flash); this one 128.
#[unsafe(link_section = ".vector_table.interrupts")]
#[unsafe(no_mangle)]
#[used]
pub static __INTERRUPTS: [Vector; 32] = [const { Vector(DefaultHandler) }; 32];

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    // Where, not why: the message would need core::fmt.
    let mut l = Line::new();
    l.s("firmware panic");
    if let Some(at) = info.location() {
        l.s(" at ").s(at.file()).s(":").u(at.line());
    }
    l.end();
    debug::exit(debug::EXIT_FAILURE);
    #[allow(clippy::empty_loop)]
    loop {}
}
