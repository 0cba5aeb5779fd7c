//! The engine through its C entry points: every function, every error path, and the properties that
//! matter (unknown never allowed, escalation, corrupt snapshots refused without effect).

use super::*;
use crate::mem::TestMem as Mem;
use crate::network::{tcap_network_init, tcap_network_set_state, tcap_network_size};
use crate::registry::tcap_registry_builtin;
use crate::tcap_outcome;
use tcap_core::network::NodeState;
use tcap_core::wire::command_id;

fn registry() -> tcap_registry {
    let mut r = tcap_registry::filled(0);
    // SAFETY: a live local.
    assert_eq!(unsafe { tcap_registry_builtin(&mut r) }, tcap_result::Ok);
    r
}

/// A configuration that escalates within a short script (the firmware's).
fn fast_config() -> tcap_config {
    let mut c = blank_config();
    // SAFETY: a live local.
    assert_eq!(unsafe { tcap_config_default(&mut c) }, tcap_result::Ok);
    c.warmup_calls = 4;
    c.warmup_outcomes = 2;
    c.up_q16 = [2 << 16, 4 << 16, 6 << 16];
    c.down_q16 = [1 << 16, 3 << 16, 5 << 16];
    // Every call evaluated on its own: these tests follow the status call by call.
    c.window = 1;
    c
}

fn blank_config() -> tcap_config {
    tcap_config {
        struct_size: 0,
        warmup_calls: 0,
        warmup_outcomes: 0,
        half_life_log2: 0,
        release_quarantine: 0,
        cooldown_us: 0,
        up_q16: [0; 3],
        down_q16: [0; 3],
        policy: [0; 24],
        window: 0,
        reserved: 0,
    }
}

fn blank_verdict() -> tcap_verdict {
    tcap_verdict {
        decision: tcap_decision::Allow,
        risk: tcap_risk::Safe,
        agent_state: tcap_agent_status::Trusted,
        net_state: tcap_node_state::Healthy,
        score: -1,
        reasons: 0,
    }
}

/// An engine for `n` agents in `mem`.
fn engine(mem: &Mem, n: u32, cfg: Option<&tcap_config>) -> *mut tcap_engine {
    let reg = registry();
    let mut size = 0;
    let mut h = core::ptr::null_mut();
    // SAFETY: live locals; `mem` is large enough (checked) and outlives the handle in every test.
    unsafe {
        assert_eq!(tcap_engine_size(n, &mut size), tcap_result::Ok);
        assert!(size <= mem.len());
        let cfg = cfg.map_or(core::ptr::null(), |c| c as *const tcap_config);
        assert_eq!(tcap_engine_init(mem.ptr(), size, n, &reg, cfg, &mut h), tcap_result::Ok);
    }
    h
}

fn check(e: *mut tcap_engine, now: u64, agent: u32, name: &str) -> Result<tcap_verdict, tcap_result> {
    let mut v = blank_verdict();
    // SAFETY: `e` is a live handle; `v` a live local.
    unsafe { tcap_engine_check(e, now, agent, command_id(name.as_bytes()), &mut v) }.into_result()?;
    Ok(v)
}

#[test]
fn reason_bits_equal_core() {
    for (c, r) in REASONS {
        assert_eq!(c, r.0);
    }
}

#[test]
fn size_and_init_errors() {
    let reg = registry();
    let mut size = 0usize;
    let mut h: *mut tcap_engine = core::ptr::null_mut();
    // SAFETY: live locals, NULL, or pointers into `mem`, which outlives every use.
    unsafe {
        assert_eq!(tcap_engine_size(0, &mut size), tcap_result::InvalidLength);
        assert_eq!(tcap_engine_size(4, core::ptr::null_mut()), tcap_result::NullArgument);
        assert_eq!(tcap_engine_size(4, &mut size), tcap_result::Ok);
        assert_eq!(size, size_of::<EngineObj>() + 4 * 64);
        let mut big = 0usize;
        assert_eq!(tcap_engine_size(u32::MAX, &mut big), tcap_result::Ok);
        assert!(big > u32::MAX as usize * 64);
        let mem = Mem::new(size + 64);
        let mis = mem.ptr().cast::<u8>().add(32).cast::<c_void>();
        assert_eq!(tcap_engine_init(mis, size, 4, &reg, core::ptr::null(), &mut h), tcap_result::Misaligned);
        assert_eq!(
            tcap_engine_init(mem.ptr(), size - 1, 4, &reg, core::ptr::null(), &mut h),
            tcap_result::BufferTooSmall
        );
        assert_eq!(
            tcap_engine_init(core::ptr::null_mut(), size, 4, &reg, core::ptr::null(), &mut h),
            tcap_result::NullArgument
        );
        assert_eq!(
            tcap_engine_init(mem.ptr(), size, 4, core::ptr::null(), core::ptr::null(), &mut h),
            tcap_result::NullArgument
        );
        let junk = tcap_registry::filled(1);
        assert_eq!(
            tcap_engine_init(mem.ptr(), size, 4, &junk, core::ptr::null(), &mut h),
            tcap_result::BadHandle
        );
        assert_eq!(
            tcap_engine_init(mem.ptr(), size, 0, &reg, core::ptr::null(), &mut h),
            tcap_result::InvalidLength
        );
        let mut c = fast_config();
        c.struct_size -= 1;
        assert_eq!(tcap_engine_init(mem.ptr(), size, 4, &reg, &c, &mut h), tcap_result::InvalidLength);
        let mut c = fast_config();
        c.down_q16[0] = c.up_q16[0];
        assert_eq!(tcap_engine_init(mem.ptr(), size, 4, &reg, &c, &mut h), tcap_result::ConfigInvalid);
        let mut c = fast_config();
        c.half_life_log2 = 300;
        assert_eq!(tcap_engine_init(mem.ptr(), size, 4, &reg, &c, &mut h), tcap_result::ConfigInvalid);
        for (window, reserved) in [(0, 0), (16, 0), (256, 0), (8, 1)] {
            let mut c = fast_config();
            c.window = window;
            c.reserved = reserved;
            assert_eq!(tcap_engine_init(mem.ptr(), size, 4, &reg, &c, &mut h), tcap_result::ConfigInvalid);
        }
        let mut c = fast_config();
        c.release_quarantine = 2;
        assert_eq!(tcap_engine_init(mem.ptr(), size, 4, &reg, &c, &mut h), tcap_result::InvalidEnum);
        let mut c = fast_config();
        c.policy[0] = 5;
        assert_eq!(tcap_engine_init(mem.ptr(), size, 4, &reg, &c, &mut h), tcap_result::InvalidEnum);
        let mut c = fast_config();
        c.policy[20] = 0; // unknown risk, trusted agent: allow
        assert_eq!(tcap_engine_init(mem.ptr(), size, 4, &reg, &c, &mut h), tcap_result::PolicyFailsOpen);
        assert!(h.is_null(), "no handle written on error");
        assert!(
            core::slice::from_raw_parts(mem.ptr().cast::<u8>().cast_const(), size).iter().all(|&b| b == 0),
            "mem untouched"
        );
        // Before init the memory is not an engine.
        let mut v = blank_verdict();
        assert_eq!(tcap_engine_check(mem.ptr().cast(), 0, 0, 0, &mut v), tcap_result::BadHandle);
        assert_eq!(tcap_engine_init(mem.ptr(), size, 4, &reg, core::ptr::null(), &mut h), tcap_result::Ok);
        assert_eq!(h.cast::<c_void>(), mem.ptr());
    }
}

#[test]
fn known_unknown_and_out_of_range() {
    let mem = Mem::new(8192);
    let e = engine(&mem, 4, None);
    let v = check(e, 1, 0, "ls").unwrap();
    assert_eq!((v.decision, v.risk), (tcap_decision::Allow, tcap_risk::Safe));
    let v = check(e, 2, 0, "rm").unwrap();
    assert_eq!((v.decision, v.risk), (tcap_decision::Deny, tcap_risk::Critical));
    assert_ne!(v.reasons & TCAP_REASON_RISK, 0);
    let v = check(e, 3, 0, "definitely-not-a-command").unwrap();
    assert_eq!(v.risk, tcap_risk::Unknown);
    assert_ne!(v.decision, tcap_decision::Allow);
    assert_ne!(v.reasons & TCAP_REASON_UNKNOWN_COMMAND, 0);
    assert_eq!(check(e, 4, 4, "ls"), Err(tcap_result::AgentOutOfRange));
    let mut v = blank_verdict();
    // SAFETY: `e` is live; the name is a live slice.
    unsafe {
        assert_eq!(tcap_engine_check_name(e, 5, 1, b"git status".as_ptr(), 10, &mut v), tcap_result::Ok);
        assert_eq!(
            v.risk,
            tcap_risk::from(tcap_core::registry::builtin().get_by_name(b"git status").unwrap().risk())
        );
        assert_eq!(tcap_engine_check_name(e, 5, 1, b"x".as_ptr(), 0, &mut v), tcap_result::InvalidLength);
        assert_eq!(tcap_engine_check_name(e, 5, 1, core::ptr::null(), 1, &mut v), tcap_result::NullArgument);
        assert_eq!(tcap_engine_check(e, 5, 1, 0, core::ptr::null_mut()), tcap_result::NullArgument);
        assert_eq!(tcap_engine_check(core::ptr::null_mut(), 5, 1, 0, &mut v), tcap_result::NullArgument);
        assert_eq!(tcap_engine_observe(e, 6, 1, 0), tcap_result::Ok);
        assert_eq!(tcap_engine_observe(e, 6, 1, 4), tcap_result::InvalidEnum);
        assert_eq!(tcap_engine_observe(e, 6, 9, 0), tcap_result::AgentOutOfRange);
    }
}

#[test]
fn risky_agent_escalates_and_others_do_not() {
    let mem = Mem::new(8192);
    let c = fast_config();
    let e = engine(&mem, 4, Some(&c));
    let mut now = 1_000_000;
    for name in ["ls", "cat", "ls", "grep", "ls", "cat"] {
        now += 2_000_000;
        for agent in [1, 2] {
            assert_eq!(check(e, now, agent, name).unwrap().agent_state, tcap_agent_status::Trusted);
        }
    }
    let mut last = tcap_agent_status::Trusted;
    let mut escalated = 0;
    for name in ["rm", "dd", "sudo", "mkfs", "rm", "shred", "dd", "chmod", "rm", "sudo", "kill", "rm"] {
        now += 100_000;
        let v = check(e, now, 2, name).unwrap();
        assert!(v.agent_state >= last, "status never falls while evidence piles up");
        escalated += usize::from(v.reasons & TCAP_REASON_ESCALATED != 0);
        last = v.agent_state;
        // SAFETY: `e` is live.
        let rc = unsafe { tcap_engine_observe(e, now + 50_000, 2, tcap_outcome::Denied as u32) };
        assert_eq!(rc, tcap_result::Ok);
        assert_eq!(check(e, now, 1, "ls").unwrap().agent_state, tcap_agent_status::Trusted);
    }
    assert!(last >= tcap_agent_status::Restricted, "{last:?}");
    assert!(escalated >= 2);
    // A restricted (or quarantined) agent's safe call is no longer a plain allow.
    assert_ne!(check(e, now + 1, 2, "ls").unwrap().decision, tcap_decision::Allow);
}

#[test]
fn export_import_round_trip_and_corrupt_refused() {
    let mem = Mem::new(8192);
    let e = engine(&mem, 3, Some(&fast_config()));
    let mut now = 10;
    for name in ["ls", "rm", "cat", "sudo", "dd"] {
        now += 1000;
        check(e, now, 0, name).unwrap();
    }
    let mut snap = [0u8; 64];
    let mut fresh = [0xAAu8; 64];
    // SAFETY: `e` is live; every buffer is a live local.
    unsafe {
        assert_eq!(tcap_engine_agent_export(e, 0, snap.as_mut_ptr()), tcap_result::Ok);
        assert_eq!(tcap_engine_agent_export(e, 2, fresh.as_mut_ptr()), tcap_result::Ok);
        assert_eq!(fresh, [0u8; 64], "a fresh agent exports as zeros");
        assert_eq!(tcap_engine_agent_export(e, 3, fresh.as_mut_ptr()), tcap_result::AgentOutOfRange);
        assert_eq!(tcap_engine_agent_export(e, 0, core::ptr::null_mut()), tcap_result::NullArgument);
        assert_eq!(snap[54], AgentState::VERSION);
        assert_eq!(decode_state(&snap).map(|s| encode_state(&s)), Some(snap));
        // Agent 1 becomes agent 0's twin: the same call gives the same verdict.
        assert_eq!(tcap_engine_agent_import(e, 1, snap.as_ptr()), tcap_result::Ok);
        let mut back = [0u8; 64];
        assert_eq!(tcap_engine_agent_export(e, 1, back.as_mut_ptr()), tcap_result::Ok);
        assert_eq!(back, snap);
        assert_eq!(check(e, now + 5, 0, "mkfs").unwrap(), check(e, now + 5, 1, "mkfs").unwrap());
        // Corrupt snapshots: refused, nothing changes.
        assert_eq!(tcap_engine_agent_export(e, 1, snap.as_mut_ptr()), tcap_result::Ok);
        for (at, val) in [(55usize, 4u8), (54, AgentState::VERSION + 1), (63, 0x0f), (57, 4), (19, 0x80)] {
            let mut bad = snap;
            bad[at] = val;
            assert_eq!(
                tcap_engine_agent_import(e, 1, bad.as_ptr()),
                tcap_result::AgentStateRejected,
                "byte {at}"
            );
        }
        let mut not_fresh = [0u8; 64];
        not_fresh[20] = 1; // calls = 1 with version 0
        assert_eq!(tcap_engine_agent_import(e, 1, not_fresh.as_ptr()), tcap_result::AgentStateRejected);
        assert_eq!(tcap_engine_agent_import(e, 3, snap.as_ptr()), tcap_result::AgentOutOfRange);
        assert_eq!(tcap_engine_agent_import(e, 1, core::ptr::null()), tcap_result::NullArgument);
        assert_eq!(tcap_engine_agent_export(e, 1, back.as_mut_ptr()), tcap_result::Ok);
        assert_eq!(back, snap, "refused imports changed nothing");
        // The engine keeps working after an import, for every agent.
        for a in 0..3 {
            assert!(check(e, now + 10, a, "ls").is_ok());
        }
    }
}

#[test]
fn set_policy() {
    let mem = Mem::new(8192);
    let e = engine(&mem, 2, None);
    let mut codes = Policy::DEFAULT.codes();
    codes[4 * 4] = tcap_decision::Caution as u8; // critical × trusted
    // SAFETY: `e` is live; `codes` a live local.
    unsafe {
        assert_eq!(tcap_engine_set_policy(e, codes.as_ptr()), tcap_result::Ok);
        assert_eq!(check(e, 1, 0, "rm").unwrap().decision, tcap_decision::Caution);
        let mut open = codes;
        open[5 * 4 + 1] = 0;
        assert_eq!(tcap_engine_set_policy(e, open.as_ptr()), tcap_result::PolicyFailsOpen);
        let mut bad = codes;
        bad[0] = 9;
        assert_eq!(tcap_engine_set_policy(e, bad.as_ptr()), tcap_result::InvalidEnum);
        assert_eq!(tcap_engine_set_policy(e, core::ptr::null()), tcap_result::NullArgument);
        assert_eq!(check(e, 2, 0, "rm").unwrap().decision, tcap_decision::Caution, "kept on error");
    }
}

#[test]
fn attached_network_blocks_quarantined_agents() {
    let mem = Mem::new(8192);
    let e = engine(&mem, 4, None);
    let mut size = 0;
    let mut net = core::ptr::null_mut();
    // SAFETY: live locals; `nmem` outlives the attachment (detached before it drops).
    unsafe {
        assert_eq!(tcap_network_size(3, &mut size), tcap_result::Ok);
        let nmem = Mem::new(size);
        assert_eq!(tcap_network_init(nmem.ptr(), size, 3, &mut net), tcap_result::Ok);
        assert_eq!(tcap_engine_attach_network(e, core::ptr::null()), tcap_result::NullArgument);
        assert_eq!(tcap_engine_attach_network(e, mem.ptr().cast()), tcap_result::BadHandle);
        assert_eq!(tcap_engine_attach_network(e, net), tcap_result::Ok);
        assert_eq!(check(e, 1, 1, "ls").unwrap().decision, tcap_decision::Allow);
        assert_eq!(tcap_network_set_state(net, 2, 1, NodeState::Quarantined as u32), tcap_result::Ok);
        let v = check(e, 3, 1, "ls").unwrap();
        assert_eq!((v.decision, v.net_state), (tcap_decision::Quarantine, tcap_node_state::Quarantined));
        assert_ne!(v.reasons & TCAP_REASON_NETWORK, 0);
        assert_eq!(check(e, 3, 3, "ls").unwrap().net_state, tcap_node_state::Healthy, "beyond the network");
        assert_eq!(tcap_network_set_state(net, 4, 2, NodeState::Suspicious as u32), tcap_result::Ok);
        assert_ne!(check(e, 5, 2, "ls").unwrap().reasons & TCAP_REASON_NETWORK_WATCH, 0);
        // Overwritten network memory is noticed, not read. Written through the handle (the object
        // starts the memory): a write through `nmem`'s own pointer would, under Rust's aliasing model,
        // invalidate the pointer the engine holds (Miri, Stacked Borrows) — C callers are outside it.
        assert_eq!(net.cast::<u8>(), nmem.ptr().cast::<u8>());
        core::ptr::write_bytes(net.cast::<u8>(), 0, 8);
        assert_eq!(check(e, 6, 1, "ls"), Err(tcap_result::BadHandle));
        assert_eq!(tcap_engine_detach_network(e), tcap_result::Ok);
        assert_eq!(tcap_engine_detach_network(core::ptr::null_mut()), tcap_result::NullArgument);
        assert_eq!(check(e, 7, 1, "ls").unwrap().decision, tcap_decision::Allow);
    }
}
