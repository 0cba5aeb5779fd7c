use super::*;
use crate::behavior::SCORE_MAX;
use zerocopy::IntoBytes;

use crate::test_rng::xorshift;

/// A few commands with realistic flags, sorted by id.
fn table() -> [CommandInfo; 6] {
    let mut t = [
        CommandInfo::new(command_id(b"ls"), Flags::SAFE),
        CommandInfo::new(command_id(b"ps"), Flags::LOW_RISK),
        CommandInfo::new(command_id(b"curl"), Flags(Flags::MEDIUM_RISK.0 | Flags::NETWORK_ACCESS.0)),
        CommandInfo::new(command_id(b"chmod"), Flags(Flags::HIGH_RISK.0 | Flags::FILE_MODIFICATION.0)),
        CommandInfo::new(command_id(b"rm"), Flags(Flags::CRITICAL.0 | Flags::DESTRUCTIVE.0)),
        CommandInfo::new(command_id(b"mystery"), Flags(Flags::NETWORK_ACCESS.0)),
    ];
    t.sort_by_key(|e| e.id);
    t
}

#[test]
fn slice_lookup_sorted_only_and_ct_agrees() {
    let t = table();
    let l = SliceLookup::new(&t).unwrap();
    for e in &t {
        assert_eq!(l.by_id(e.id), Some(*e));
        assert_eq!(l.by_id_ct(e.id), (*e, u32::MAX));
    }
    assert_eq!(l.by_name(b"rm").map(|e| e.risk), Some(Risk::Critical));
    assert_eq!(l.by_name(b"nope"), None);
    assert_eq!(l.by_id_ct(command_id(b"nope")), (CommandInfo::unknown(command_id(b"nope")), 0));
    let mut bad = t;
    bad.swap(0, 1);
    assert_eq!(SliceLookup::new(&bad).err(), Some(SliceLookupError::Unsorted(0)));
    let dup = [t[0], t[0]];
    assert_eq!(SliceLookup::new(&dup).err(), Some(SliceLookupError::Unsorted(0)));
}

#[test]
fn unknown_commands_fail_closed() {
    let t = table();
    let mut states = [AgentState::FRESH; 4];
    let mut g =
        Gate::new(SliceLookup::new(&t).unwrap(), Policy::DEFAULT, Config::DEFAULT, &mut states).unwrap();
    let v = g.check(1, 0, Command::Name(b"definitely-not-a-tool"), &()).unwrap();
    assert_ne!(v.decision, Decision::Allow);
    assert_eq!(v.risk, Risk::Unknown);
    assert!(v.reasons.contains(Reasons::UNKNOWN_COMMAND));
    let v = g.check(2, 0, Command::Id(0xdead_beef), &()).unwrap();
    assert_ne!(v.decision, Decision::Allow);
    assert!(v.reasons.contains(Reasons::UNKNOWN_COMMAND));
    // A known command without risk bits is Unknown risk too, but not an unknown command.
    let v = g.check(3, 0, Command::Name(b"mystery"), &()).unwrap();
    assert_eq!(v.risk, Risk::Unknown);
    assert_ne!(v.decision, Decision::Allow);
    assert!(!v.reasons.contains(Reasons::UNKNOWN_COMMAND));
    // A known safe command is allowed for a fresh agent.
    let v = g.check(4, 1, Command::Name(b"ls"), &()).unwrap();
    assert_eq!(v.decision, Decision::Allow);
    assert_eq!(v.reasons, Reasons::default());
    let v = g.check(5, 1, Command::Name(b"rm"), &()).unwrap();
    assert_eq!(v.decision, Decision::Deny);
    assert!(v.reasons.contains(Reasons::RISK));
}

#[test]
fn agent_out_of_range_is_an_error_not_an_alias() {
    let t = table();
    let mut states = [AgentState::FRESH; 3];
    let mut g =
        Gate::new(SliceLookup::new(&t).unwrap(), Policy::DEFAULT, Config::DEFAULT, &mut states).unwrap();
    for agent in [3u32, 4, 1 << 20, u32::MAX] {
        assert_eq!(
            g.check(1, agent, Command::Name(b"ls"), &()),
            Err(GateError::AgentOutOfRange { agent, capacity: 3 })
        );
        assert_eq!(
            g.observe(1, agent, Outcome::Error),
            Err(GateError::AgentOutOfRange { agent, capacity: 3 })
        );
        assert_eq!(
            g.check_ct(1, agent, Command::Name(b"ls"), &(), 0),
            Err(GateError::AgentOutOfRange { agent, capacity: 3 })
        );
    }
    // Nothing was recorded anywhere.
    assert!(g.agents().iter().all(|s| *s == AgentState::FRESH));
    let mut out = [Ok(()); 2];
    let obs = [
        Observation { now: 1, agent: 2, outcome: Outcome::Error },
        Observation { now: 1, agent: 7, outcome: Outcome::Error },
    ];
    assert_eq!(g.observe_batch(&obs, &mut out), 2);
    assert_eq!(out[0], Ok(()));
    assert_eq!(out[1], Err(GateError::AgentOutOfRange { agent: 7, capacity: 3 }));
    // A corrupt slot is refused, not silently reset.
    let _ = g;
    states[1].version = 77;
    let mut g =
        Gate::new(SliceLookup::new(&t).unwrap(), Policy::DEFAULT, Config::DEFAULT, &mut states).unwrap();
    assert_eq!(g.check(1, 1, Command::Name(b"ls"), &()), Err(GateError::CorruptState { agent: 1 }));
    assert!(g.check(1, 0, Command::Name(b"ls"), &()).is_ok());
}

#[test]
fn network_state_overrides() {
    let t = table();
    let mut states = [AgentState::FRESH; 5];
    let mut g =
        Gate::new(SliceLookup::new(&t).unwrap(), Policy::DEFAULT, Config::DEFAULT, &mut states).unwrap();
    let net = [
        NodeState::Healthy,
        NodeState::Suspicious,
        NodeState::Quarantined,
        NodeState::Isolated,
        NodeState::Recovering,
    ];
    let net: &[NodeState] = &net;
    for agent in 0..5u32 {
        let v = g.check(1, agent, Command::Name(b"ls"), &net).unwrap();
        assert_eq!(v.net_state, net[agent as usize]);
        if net[agent as usize].is_blocked() {
            assert_eq!(v.decision, Decision::Quarantined);
            assert!(v.reasons.contains(Reasons::NETWORK));
        } else {
            assert_eq!(v.decision, Decision::Allow);
            assert_eq!(v.reasons.contains(Reasons::NETWORK_WATCH), agent != 0);
        }
        assert_eq!(g.check_ct(2, agent, Command::Name(b"ls"), &net, 0).unwrap().decision, v.decision);
    }
}

#[test]
fn sketch_anomaly_is_one_evidence_term() {
    let t = table();
    let mut states = [AgentState::FRESH; 1];
    let mut g =
        Gate::new(SliceLookup::new(&t).unwrap(), Policy::DEFAULT, Config::DEFAULT, &mut states).unwrap();
    let quiet = g.check_with_anomaly(1, 0, Command::Name(b"ls"), &(), 0).unwrap();
    assert!(!quiet.reasons.contains(Reasons::NOVELTY));
    let cfg = Config::DEFAULT;
    let v = g.check_with_anomaly(2, 0, Command::Name(b"ls"), &(), cfg.sketch_offset + (1 << 18)).unwrap();
    assert!(v.reasons.contains(Reasons::NOVELTY));
    assert_eq!(v.score - quiet.score, (1 << 18) >> cfg.sketch_shift);
    let v2 = g.check_with_anomaly(3, 0, Command::Name(b"ls"), &(), u32::MAX).unwrap();
    assert_eq!(v2.score - v.score, cfg.sketch_cap);
}

#[test]
fn drifting_agent_escalates_with_reasons() {
    let t = table();
    let mut states = [AgentState::FRESH; 2];
    let mut g =
        Gate::new(SliceLookup::new(&t).unwrap(), Policy::DEFAULT, Config::DEFAULT, &mut states).unwrap();
    let mut seed = 7u64;
    let mut now = 0u64;
    let benign: [&[u8]; 4] = [b"ls", b"ls", b"ps", b"curl"];
    let risky: [&[u8]; 4] = [b"rm", b"chmod", b"ls", b"chmod"];
    let mut escalated = false;
    let mut last = None;
    for i in 0..600 {
        now += 1_000_000 + xorshift(&mut seed) % 500_000;
        let r = (xorshift(&mut seed) % 4) as usize;
        let b = g.check(now, 0, Command::Name(benign[r]), &()).unwrap();
        assert_eq!(b.agent_state, AgentStatus::Trusted, "benign agent escalated at call {i}");
        let name = if i < 200 { benign[r] } else { risky[r] };
        let v = g.check(now, 1, Command::Name(name), &()).unwrap();
        escalated |= v.reasons.contains(Reasons::ESCALATED);
        g.observe(now + 10, 1, if i < 200 { Outcome::Success } else { Outcome::Denied }).unwrap();
        last = Some(v);
    }
    let v = last.unwrap();
    assert!(escalated);
    assert!(v.agent_state >= AgentStatus::Restricted, "score {}", v.score);
    assert!(v.reasons.contains(Reasons::AGENT_STATE));
    assert!(v.score > 0 && v.score <= SCORE_MAX);
    // Even a safe command is no longer plainly allowed for it.
    let v = g.check(now + 1, 1, Command::Name(b"ls"), &()).unwrap();
    assert_ne!(v.decision, Decision::Allow);
}

/// Random policies, commands (known and unknown), agents, times, outcomes and network states: the
/// constant-time path gives identical verdicts and identical agent states.
#[test]
fn check_ct_equals_check_on_random_inputs() {
    let t = table();
    let names: [&[u8]; 8] = [b"ls", b"ps", b"curl", b"chmod", b"rm", b"mystery", b"nope", b"sudo"];
    let mut seed = 0xfeed_f00d_u64;
    let steps = if cfg!(miri) { 300 } else { 3000 };
    for round in 0..20 {
        let mut policy = Policy::DEFAULT;
        for r in Risk::ALL {
            for s in AgentStatus::ALL {
                policy.set(r, s, Decision::from_u8_saturating((xorshift(&mut seed) % 5) as u8));
            }
        }
        let mut cfg = Config::DEFAULT;
        cfg.warmup_calls = (xorshift(&mut seed) % 40) as u32;
        cfg.pop_min_samples = 16;
        cfg.cooldown_us = xorshift(&mut seed) % 5_000_000;
        cfg.release_quarantine = round % 2 == 0;
        let mut a = [AgentState::FRESH; 16];
        let mut b = [AgentState::FRESH; 16];
        let mut ga = Gate::new(SliceLookup::new(&t).unwrap(), policy, cfg, &mut a).unwrap();
        let mut gb = Gate::new(SliceLookup::new(&t).unwrap(), policy, cfg, &mut b).unwrap();
        let mut net = [NodeState::Healthy; 16];
        let mut now = 0u64;
        for _ in 0..steps {
            now += xorshift(&mut seed) % 3_000_000;
            let agent = (xorshift(&mut seed) % 17) as u32; // includes one out of range
            if xorshift(&mut seed).is_multiple_of(50) {
                net[(xorshift(&mut seed) % 16) as usize] =
                    NodeState::from_u8((xorshift(&mut seed) % 5) as u8).unwrap();
            }
            let netv: &[NodeState] = &net;
            let name = names[(xorshift(&mut seed) % 8) as usize];
            let cmd = if xorshift(&mut seed).is_multiple_of(2) {
                Command::Name(name)
            } else {
                Command::Id(command_id(name))
            };
            let anomaly = if xorshift(&mut seed).is_multiple_of(4) { xorshift(&mut seed) as u32 } else { 0 };
            let va = ga.check_with_anomaly(now, agent, cmd, &netv, anomaly);
            let vb = gb.check_ct(now, agent, cmd, &netv, anomaly);
            assert_eq!(va, vb);
            if xorshift(&mut seed).is_multiple_of(2) {
                let o = Outcome::ALL[(xorshift(&mut seed) % 4) as usize];
                assert_eq!(ga.observe(now + 5, agent, o), gb.observe_ct(now + 5, agent, o));
            }
        }
        assert_eq!(ga.population(), gb.population());
        assert_eq!(a.as_bytes(), b.as_bytes());
        // Some agent was driven well past its warm-up (16 in range share `steps` calls).
        assert!(a.iter().any(|s| s.calls as usize > steps / 30));
    }
}

#[test]
fn batch_equals_sequential() {
    let t = table();
    let ids: [u32; 6] = core::array::from_fn(|i| t[i].id);
    let mut seed = 99u64;
    let mut calls = [Call { now: 0, agent: 0, command: 0 }; 500];
    let mut obs = [Observation { now: 0, agent: 0, outcome: Outcome::Success }; 500];
    let mut now = 0;
    for (c, o) in calls.iter_mut().zip(obs.iter_mut()) {
        now += xorshift(&mut seed) % 2_000_000;
        let agent = (xorshift(&mut seed) % 70) as u32; // 64 slots: some out of range
        let command = if xorshift(&mut seed).is_multiple_of(10) {
            12345
        } else {
            ids[(xorshift(&mut seed) % 6) as usize]
        };
        *c = Call { now, agent, command };
        *o = Observation { now: now + 1, agent, outcome: Outcome::ALL[(xorshift(&mut seed) % 4) as usize] };
    }
    let mut a = [AgentState::FRESH; 64];
    let mut b = [AgentState::FRESH; 64];
    let mut ga = Gate::new(SliceLookup::new(&t).unwrap(), Policy::DEFAULT, Config::DEFAULT, &mut a).unwrap();
    let mut gb = Gate::new(SliceLookup::new(&t).unwrap(), Policy::DEFAULT, Config::DEFAULT, &mut b).unwrap();
    let mut out = [Ok(Verdict {
        decision: Decision::Allow,
        risk: Risk::Safe,
        agent_state: AgentStatus::Trusted,
        net_state: NodeState::Healthy,
        score: 0,
        reasons: Reasons(0),
    }); 50];
    let mut oout = [Ok(()); 50];
    for chunk in 0..10 {
        let r = chunk * 50..chunk * 50 + 50;
        assert_eq!(ga.check_batch(&calls[r.clone()], &(), &mut out), 50);
        for (i, c) in calls[r.clone()].iter().enumerate() {
            assert_eq!(out[i], gb.check(c.now, c.agent, Command::Id(c.command), &()));
        }
        assert_eq!(ga.observe_batch(&obs[r.clone()], &mut oout), 50);
        for (i, o) in obs[r].iter().enumerate() {
            assert_eq!(oout[i], gb.observe(o.now, o.agent, o.outcome));
        }
    }
    // A short output slice bounds the work.
    assert_eq!(ga.check_batch(&calls, &(), &mut out[..3]), 3);
    assert_eq!(ga.check_batch(&calls[..2], &(), &mut out), 2);
}

#[test]
fn population_merges_and_rebuilds() {
    let t = table();
    let mut states = [AgentState::FRESH; 8];
    let mut cfg = Config::DEFAULT;
    cfg.window = 1;
    cfg.warmup_calls = 4;
    cfg.pop_min_samples = 1;
    let mut g = Gate::new(SliceLookup::new(&t).unwrap(), Policy::DEFAULT, cfg, &mut states).unwrap();
    for i in 0..80u64 {
        g.check(i * 1000, (i % 8) as u32, Command::Name(if i % 3 == 0 { b"rm" } else { b"ls" }), &())
            .unwrap();
    }
    let p = g.population();
    assert_eq!(p.hi.count, 80 - 8 * 4);
    assert_eq!(p.calls(), 80);
    let mut other = Population::EMPTY;
    for x in [100u16, 200, 300] {
        other.push(4, x, true);
    }
    g.merge_population(other);
    assert_eq!(g.population(), p.merge(other));
    assert!(g.population_view().ready);
    assert!(g.population_view().mix_ready);
    g.rebuild_population();
    assert_eq!(g.population(), Population::of_agents(g.agents(), 4));
    assert_eq!(g.population().hi.count, 8);
    assert_eq!(g.population().calls(), 80);
}

#[test]
fn errors_display() {
    extern crate std;
    use std::string::ToString;
    assert_eq!(
        GateError::AgentOutOfRange { agent: 9, capacity: 3 }.to_string(),
        "agent 9 is out of range (capacity 3)"
    );
    let mut cfg = Config::DEFAULT;
    cfg.p_floor = 0;
    let mut s = [AgentState::FRESH; 1];
    let t = table();
    let e = Gate::new(SliceLookup::new(&t).unwrap(), Policy::DEFAULT, cfg, &mut s).unwrap_err();
    assert_eq!(e, GateError::Config(ConfigError::ZeroFloor));
    assert!(e.to_string().contains("floor"));
}

#[test]
fn frozen_codes_and_bits() {
    // These numbers appear in decision records and the C ABI: changing one is a format break.
    let d: [(Decision, u8); 5] = [
        (Decision::Allow, 0),
        (Decision::Caution, 1),
        (Decision::RequireApproval, 2),
        (Decision::Deny, 3),
        (Decision::Quarantined, 4),
    ];
    for (x, v) in d {
        assert_eq!(x as u8, v);
    }
    let r: [(Reasons, u32); 11] = [
        (Reasons::UNKNOWN_COMMAND, 0),
        (Reasons::RISK, 1),
        (Reasons::AGENT_STATE, 2),
        (Reasons::NETWORK, 3),
        (Reasons::PROFILE, 4),
        (Reasons::BURST, 5),
        (Reasons::POPULATION, 6),
        (Reasons::NOVELTY, 7),
        (Reasons::OUTCOMES, 8),
        (Reasons::ESCALATED, 9),
        (Reasons::NETWORK_WATCH, 10),
    ];
    for (x, bit) in r {
        assert_eq!(x.0, 1 << bit);
    }
    assert_eq!(Reasons::from_evidence(Evidence::PROFILE), Reasons::PROFILE);
    assert_eq!(Reasons::from_evidence(Evidence::BURST), Reasons::BURST);
    assert_eq!(Reasons::from_evidence(Evidence::POPULATION), Reasons::POPULATION);
    assert_eq!(Reasons::from_evidence(Evidence::NOVELTY), Reasons::NOVELTY);
    assert_eq!(Reasons::from_evidence(Evidence::OUTCOMES), Reasons::OUTCOMES);
}
