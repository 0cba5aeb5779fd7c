//! The flash floor of the gate on the full built-in registry: open `tcap_registry_builtin`, initialise
//! an engine, make one `check_name`, one `check` and one `observe`, exit with whether they succeeded.
//! No output and no test logic: what remains is the library code any such firmware links.
//! `make firmware` builds it next to the firmware and prints its size; `make firmware-test` runs it in
//! QEMU.
#![no_std]
#![no_main]

use cortex_m_rt::entry;
use cortex_m_semihosting::debug;
use tcap::engine::{
    tcap_config, tcap_config_default, tcap_engine, tcap_engine_check, tcap_engine_check_name,
    tcap_engine_init, tcap_engine_observe, tcap_verdict,
};
use tcap::registry::{tcap_registry, tcap_registry_builtin};
use tcap::{tcap_agent_status, tcap_decision, tcap_node_state, tcap_outcome, tcap_result, tcap_risk};

/// Bytes of engine memory for 4 agents (`tcap_engine_size(4)`, about 1.1 KiB), as in the firmware.
const ENGINE_BYTES: usize = 1536;

/// The engine's memory, 64-byte aligned.
#[repr(C, align(64))]
struct EngineMem([u8; ENGINE_BYTES]);

static mut ENGINE_MEM: EngineMem = EngineMem([0; ENGINE_BYTES]);

/// Board-sized interrupt table, as in the firmware (cortex-m-rt's `device` feature).
#[repr(C)]
pub struct Vector(unsafe extern "C" fn());

unsafe extern "C" {
    fn DefaultHandler();
}

/// 32 IRQs, all the default handler.
#[unsafe(link_section = ".vector_table.interrupts")]
#[unsafe(no_mangle)]
#[used]
pub static __INTERRUPTS: [Vector; 32] = [const { Vector(DefaultHandler) }; 32];

#[entry]
fn main() -> ! {
    let mut reg = tcap_registry::filled(0);
    // SAFETY: a zeroed `tcap_config` is a valid value (integers only), then overwritten by the defaults.
    let mut cfg: tcap_config = unsafe { core::mem::zeroed() };
    let mut engine: *mut tcap_engine = core::ptr::null_mut();
    let mut v = tcap_verdict {
        decision: tcap_decision::Quarantine,
        risk: tcap_risk::Unknown,
        agent_state: tcap_agent_status::Quarantined,
        net_state: tcap_node_state::Isolated,
        score: -1,
        reasons: 0,
    };
    // SAFETY: every pointer is a live local or the static engine memory, used by the one thread there is.
    let ok = unsafe {
        tcap_registry_builtin(&mut reg) == tcap_result::Ok
            && tcap_config_default(&mut cfg) == tcap_result::Ok
            && tcap_engine_init((&raw mut ENGINE_MEM).cast(), ENGINE_BYTES, 4, &reg, &cfg, &mut engine)
                == tcap_result::Ok
            && tcap_engine_check(engine, 1_000, 0, 0x44ba_5ca6, &mut v) == tcap_result::Ok
            && tcap_engine_observe(engine, 2_000, 0, tcap_outcome::Success as u32) == tcap_result::Ok
            && tcap_engine_check_name(engine, 3_000, 0, b"ls".as_ptr(), 2, &mut v) == tcap_result::Ok
    };
    let ok = ok && v.decision == tcap_decision::Allow && v.risk == tcap_risk::Safe;
    debug::exit(if ok { debug::EXIT_SUCCESS } else { debug::EXIT_FAILURE });
    #[allow(clippy::empty_loop)]
    loop {}
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    debug::exit(debug::EXIT_FAILURE);
    #[allow(clippy::empty_loop)]
    loop {}
}
