//! `tcapd decode`: inspect 24-byte TCP descriptors of any flavour.

use std::process::ExitCode;

use clap::Args;
use serde::Serialize;
use tcap_core::wire::{DESCRIPTOR_LEN, Descriptor, Flags, Flavour, KbFlags};
use tcap_driver::cli::CliResult;

use super::{hex, hex32, parse_hex, print_json};

const AFTER_HELP: &str = "\
Each HEX is one 24-byte descriptor (48 hex digits); spaces, colons and 0x prefixes are ignored.
Flavours: spec (CRC-32 low 16, u16 perf fields, command length), registry (CRC, u32 exec time),
knowledge-base (byte-sum checksum, knowledge-base flag map, normalised to the canonical map).
When the bytes verify under both checksums the hint decides (default: spec); a registry hint is
needed to read CRC descriptors in the registry layout, whose bytes cannot be told from the spec's.

Exit status: 0 every descriptor decoded; 1 at least one did not (each is still reported: the others
are decoded, and the reason goes to stderr as `decode: HEX: REASON`); 2 usage.

Examples:
  tcapd decode 544350020002d67f249b000006d0271003e800320002ef04
  tcapd decode '54 43 50 02 00 02 44 ba 5c a6 00 00 05 01 00 00 00 64 00 0a 00 01 03 60'
  tcapd decode --hint registry --json 0x544350020002d077f2440000000201f40032001a00032048";

/// Decode and verify TCP descriptors (spec, registry or knowledge-base layout).
#[derive(Args, Debug)]
#[command(after_help = AFTER_HELP)]
pub struct DecodeArgs {
    /// One JSON array on stdout, one object per descriptor (docs/CLI.md lists the fields).
    #[arg(long)]
    pub json: bool,
    /// Flavour to prefer when the bytes fit more than one layout: spec, registry or kb.
    #[arg(long, value_name = "FLAVOUR", value_parser = parse_flavour)]
    pub hint: Option<Flavour>,
    /// Descriptors in hex (24 bytes each).
    #[arg(value_name = "HEX", required = true)]
    pub hex: Vec<String>,
}

fn parse_flavour(s: &str) -> Result<Flavour, String> {
    Flavour::parse(s).ok_or_else(|| format!("unknown flavour {s:?} (spec, registry, kb)"))
}

/// The checksum facts of one descriptor.
#[derive(Serialize, Debug)]
struct ChecksumJson {
    stored: String,
    crc16: String,
    byte_sum: String,
    crc_ok: bool,
    sum_ok: bool,
}

/// One decoded (or refused) descriptor; fields after `error` are `null` when it did not decode.
#[derive(Serialize, Debug)]
struct DecodeJson {
    input: String,
    ok: bool,
    error: Option<String>,
    bytes: Option<String>,
    command_id: Option<String>,
    checksum: Option<ChecksumJson>,
    flavour: Option<&'static str>,
    ambiguous: Option<bool>,
    wire_flags: Option<String>,
    wire_flag_names: Option<Vec<&'static str>>,
    flags: Option<String>,
    flag_names: Option<Vec<&'static str>>,
    vendor_bits: Option<String>,
    risk: Option<&'static str>,
    risk_bits: Option<u32>,
    exec_time_ms: Option<u32>,
    memory_mb: Option<u16>,
    output_kb: Option<u16>,
    command_len: Option<u16>,
    /// Canonical flags as a number, for the text output.
    #[serde(skip)]
    raw_flags: u32,
}

impl DecodeJson {
    fn refused(input: &str, error: String) -> DecodeJson {
        DecodeJson {
            input: input.to_string(),
            ok: false,
            error: Some(error),
            bytes: None,
            command_id: None,
            checksum: None,
            flavour: None,
            ambiguous: None,
            wire_flags: None,
            wire_flag_names: None,
            flags: None,
            flag_names: None,
            vendor_bits: None,
            risk: None,
            risk_bits: None,
            exec_time_ms: None,
            memory_mb: None,
            output_kb: None,
            command_len: None,
            raw_flags: 0,
        }
    }
}

/// Names of the set named bits of a wire flag word in its own map.
fn wire_names(flavour: Flavour, wire: u32) -> Vec<&'static str> {
    match flavour {
        Flavour::KnowledgeBase => {
            let mut v: Vec<&'static str> = Flags(wire & Flags::RISK_MASK).names().collect();
            v.extend(KbFlags::NAMED.iter().filter(|(f, _)| wire & f.0 == f.0).map(|(_, n)| *n));
            v
        }
        _ => Flags(wire).names().collect(),
    }
}

fn risk_names(flags: Flags) -> Vec<&'static str> {
    Flags(flags.0 & Flags::RISK_MASK).names().collect()
}

/// Short form of the input for messages: the first 8 hex digits and an ellipsis.
fn short(s: &str) -> String {
    let h: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    if h.chars().count() > 12 { format!("{}…", h.chars().take(8).collect::<String>()) } else { h }
}

fn one(input: &str, hint: Option<Flavour>) -> DecodeJson {
    let bytes = match parse_hex(input) {
        Ok(b) => b,
        Err(e) => return DecodeJson::refused(input, format!("bad hex: {e}")),
    };
    if bytes.len() != DESCRIPTOR_LEN {
        return DecodeJson::refused(
            input,
            format!("descriptor must be {DESCRIPTOR_LEN} bytes, got {}", bytes.len()),
        );
    }
    let i = Descriptor::new_unchecked(&bytes[..]).inspect(hint);
    let mut j = DecodeJson::refused(input, String::new());
    j.bytes = Some(hex(&bytes));
    j.command_id = Some(hex32(i.command_id));
    j.wire_flags = Some(hex32(i.wire_flags));
    j.checksum = Some(ChecksumJson {
        stored: format!("{:#06x}", i.stored_checksum),
        crc16: format!("{:#06x}", i.crc16),
        byte_sum: format!("{:#06x}", i.byte_sum),
        crc_ok: i.crc_ok(),
        sum_ok: i.sum_ok(),
    });
    match i.result {
        Err(e) => j.error = Some(e.to_string()),
        Ok(d) => {
            let f = d.repr.flags;
            j.ok = true;
            j.raw_flags = f.0;
            j.error = None;
            j.flavour = Some(d.flavour.as_str());
            j.ambiguous = Some(i.ambiguous());
            j.wire_flag_names = Some(wire_names(d.flavour, i.wire_flags));
            j.flags = Some(hex32(f.0));
            j.flag_names = Some(f.names().collect());
            j.vendor_bits = Some(hex32(f.0 & Flags::VENDOR_MASK));
            j.risk = Some(d.risk().as_str());
            j.risk_bits = Some(d.risk_bit_count());
            j.exec_time_ms = Some(d.repr.exec_time_ms);
            j.memory_mb = Some(d.repr.memory_mb);
            j.output_kb = Some(d.repr.output_kb);
            j.command_len = d.repr.command_len;
        }
    }
    j
}

fn print_text(j: &DecodeJson) {
    println!("{}", j.bytes.as_deref().unwrap_or(&j.input));
    let (Some(id), Some(ck)) = (&j.command_id, &j.checksum) else {
        if let Some(e) = &j.error {
            println!("  error        {e}");
        }
        return;
    };
    let ok = |b: bool| if b { "ok" } else { "mismatch" };
    if let (true, Some(flavour)) = (j.ok, j.flavour) {
        let amb =
            if j.ambiguous == Some(true) { " (both checksums match; hint or spec decided)" } else { "" };
        println!("  flavour      {flavour}{amb}");
    }
    println!("  command id   {id}");
    if let (Some(w), Some(names)) = (&j.wire_flags, &j.wire_flag_names) {
        println!("  wire flags   {w} [{}]", names.join("|"));
    } else if let Some(w) = &j.wire_flags {
        println!("  wire flags   {w}");
    }
    if let (Some(f), Some(names)) = (&j.flags, &j.flag_names) {
        let vendor = j.vendor_bits.as_deref().filter(|v| *v != "0x00000000");
        let vendor = vendor.map(|v| format!(" + vendor bits {v}")).unwrap_or_default();
        println!("  flags        {f} [{}]{vendor} (canonical)", names.join("|"));
    }
    if let (Some(risk), Some(n)) = (j.risk, j.risk_bits) {
        println!("  risk         {risk}");
        if n > 1 {
            println!(
                "  warning      {n} risk bits set ({}); the highest wins",
                risk_names(Flags(j.raw_flags)).join(", ")
            );
        }
    }
    if let (Some(e), Some(m), Some(o)) = (j.exec_time_ms, j.memory_mb, j.output_kb) {
        let len = j.command_len.map(|n| format!(", command length {n}")).unwrap_or_default();
        println!("  perf         exec {e} ms, memory {m} MB, output {o} KB{len}");
    }
    println!(
        "  checksum     stored {}; crc16 {} {}; byte sum {} {}",
        ck.stored,
        ck.crc16,
        ok(ck.crc_ok),
        ck.byte_sum,
        ok(ck.sum_ok)
    );
    if let Some(e) = &j.error {
        println!("  error        {e}");
    }
}

impl DecodeArgs {
    /// Runs `tcapd decode`.
    pub fn exec(self) -> CliResult {
        let results: Vec<DecodeJson> = self.hex.iter().map(|h| one(h, self.hint)).collect();
        let mut bad = 0;
        for j in &results {
            if let Some(e) = &j.error {
                eprintln!("decode: {}: {e}", short(&j.input));
                bad += 1;
            }
        }
        if self.json {
            print_json(&results)?;
        } else {
            for (k, j) in results.iter().enumerate() {
                if k > 0 {
                    println!();
                }
                print_text(j);
            }
        }
        Ok(if bad == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
    }
}
