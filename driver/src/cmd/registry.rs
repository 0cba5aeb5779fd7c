//! `tcapd registry build` and `tcapd registry inspect`.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};
use serde::Serialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use tcap_core::registry::{self, BuildError, Builder, Density, EntrySpec, Registry, hdr, tsv};
use tcap_core::wire::{Flags, Flavour, Risk, TcpDb, command_id, decode};
use tcap_driver::cli::{CliError, CliResult};

use tcap_driver::snapshot::write_atomic;

use super::{fail, hex32, parse_hex, print_json};

const BUILD_HELP: &str = "\
Formats (guessed from the extension, then the first bytes, when --format is omitted):
  tsv    the source table of core/data/builtin.tsv: 7 tab-separated columns name, risk, flags,
         exec_ms, memory_mb, output_kb, reason; # comments (extension .tsv)
  tcpdb  upstream's TCPDB\\x02 container, e.g. tcp_complete.db (extension .db, magic TCPDB\\x02)
  json   upstream's tcp_export.json: commands.NAME.binary_hex (extension .json, first byte {)
Descriptors from tcpdb and json are decoded and verified (knowledge-base flags are normalised onto
the canonical map), and each stored command id must equal MD5(name)[0..4]. Duplicate names and
colliding ids are refused with both names. The image is written to a temporary file and renamed over
OUT, so a failed build leaves no partial file.

Exit status: 0 built; 1 unreadable or invalid input, duplicate, or write failure; 2 usage.

Examples:
  tcapd registry build --from core/data/builtin.tsv -o builtin.tcapreg
  tcapd registry build --from ../shared/data/upstream/tcp_complete.db -o corpus.tcapreg
  tcapd registry build --from tcp_export.json --format json -o export.tcapreg
  tcapd registry build --compact --from core/data/builtin.tsv -o small.tcapreg";

const INSPECT_HELP: &str = "\
Validates the whole image (header, geometry, CRC-32C checksum, every bucket and record, every id the
MD5 prefix of its name) before printing anything about it.

Exit status: 0 valid; 1 unreadable or invalid image (the reason is printed); 2 usage.

Examples:
  tcapd registry inspect corpus.tcapreg
  tcapd registry inspect --entries corpus.tcapreg | grep CRITICAL
  tcapd registry inspect --json corpus.tcapreg | jq .risk_histogram";

const REGISTRY_HELP: &str = "\
A registry image (docs/FORMAT.md section 5) is the immutable lookup table the gate, `tcapd lookup`
and the C API query; `tcapd` embeds one built from core/data/builtin.tsv.

Examples:
  tcapd registry build --from ../shared/data/upstream/tcp_complete.db -o corpus.tcapreg
  tcapd registry inspect --entries corpus.tcapreg
  tcapd lookup --registry corpus.tcapreg kill";

/// Build and inspect registry images.
#[derive(Args, Debug)]
#[command(after_help = REGISTRY_HELP)]
pub struct RegistryArgs {
    #[command(subcommand)]
    command: RegistryCommand,
}

#[derive(Subcommand, Debug)]
enum RegistryCommand {
    /// Build a registry image from a TSV table, a TCPDB container or tcp_export.json.
    Build(BuildArgs),
    /// Validate a registry image and show its header, sections, checksum and entries.
    Inspect(InspectArgs),
}

/// Source formats of `registry build`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum SourceFormat {
    /// Tab-separated source table (core/data/builtin.tsv's columns).
    Tsv,
    /// Upstream `TCPDB\x02` container (tcp_complete.db).
    Tcpdb,
    /// Upstream tcp_export.json.
    Json,
}

impl fmt::Display for SourceFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SourceFormat::Tsv => "tsv",
            SourceFormat::Tcpdb => "tcpdb",
            SourceFormat::Json => "json",
        })
    }
}

/// Arguments of `registry build`.
#[derive(Args, Debug)]
#[command(after_help = BUILD_HELP)]
pub struct BuildArgs {
    /// Source file.
    #[arg(long, value_name = "FILE")]
    from: PathBuf,
    /// Source format (default: guessed from the extension, then the content).
    #[arg(long, value_enum)]
    format: Option<SourceFormat>,
    /// Image to write (atomically).
    #[arg(short = 'o', long = "out", value_name = "OUT")]
    out: PathBuf,
    /// Pack the id table at 4.8 entries per bucket instead of 3: a smaller image (for flash), lookups
    /// of the ~12 % of ids that overflow their home bucket a little slower. Same format either way.
    #[arg(long)]
    compact: bool,
}

/// Arguments of `registry inspect`.
#[derive(Args, Debug)]
#[command(after_help = INSPECT_HELP)]
pub struct InspectArgs {
    /// Registry image.
    #[arg(value_name = "FILE")]
    file: PathBuf,
    /// One JSON object on stdout (docs/CLI.md lists the fields).
    #[arg(long)]
    json: bool,
    /// Also list every entry (name order).
    #[arg(long)]
    entries: bool,
}

impl RegistryArgs {
    /// Runs `tcapd registry …`.
    pub fn exec(self) -> CliResult {
        match self.command {
            RegistryCommand::Build(a) => a.exec(),
            RegistryCommand::Inspect(a) => a.exec(),
        }
    }
}

/// One entry read from a source, with where it came from (for error messages).
struct SourceEntry {
    name: String,
    flags: Flags,
    exec_time_ms: u32,
    memory_mb: u16,
    output_kb: u16,
    origin: String,
    /// The flavour the descriptor was read as (tcpdb and json sources).
    flavour: Option<Flavour>,
}

fn guess_format(path: &Path, bytes: &[u8]) -> SourceFormat {
    match path.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("tsv") => return SourceFormat::Tsv,
        Some("db") | Some("tcpdb") => return SourceFormat::Tcpdb,
        Some("json") => return SourceFormat::Json,
        _ => {}
    }
    if bytes.starts_with(&tcap_core::wire::tcpdb::TCPDB_MAGIC) {
        SourceFormat::Tcpdb
    } else if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        SourceFormat::Json
    } else {
        SourceFormat::Tsv
    }
}

fn read_tsv(bytes: &[u8]) -> Result<Vec<SourceEntry>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8: {e}"))?;
    let rows = tsv::parse(text).map_err(|e| {
        let row = text.lines().nth(e.line.saturating_sub(1)).unwrap_or("");
        format!("line {}: {}: {row:?} ({})", e.line, e.kind, tsv::COLUMNS_HELP)
    })?;
    Ok(rows
        .into_iter()
        .map(|r| SourceEntry {
            name: r.name.to_string(),
            flags: r.flags,
            exec_time_ms: r.exec_time_ms,
            memory_mb: r.memory_mb,
            output_kb: r.output_kb,
            origin: format!("line {}", r.line),
            flavour: None,
        })
        .collect())
}

/// Decodes one upstream descriptor (knowledge-base layout preferred) and checks its id against the name.
fn from_descriptor(name: &str, d: &[u8], origin: String) -> Result<SourceEntry, String> {
    let dec = decode(d, Some(Flavour::KnowledgeBase)).map_err(|e| format!("{origin} ({name:?}): {e}"))?;
    let want = command_id(name.as_bytes());
    if dec.repr.command_id != want {
        return Err(format!(
            "{origin} ({name:?}): stored command id {} is not MD5(name)[0..4] = {}",
            hex32(dec.repr.command_id),
            hex32(want)
        ));
    }
    Ok(SourceEntry {
        name: name.to_string(),
        flags: dec.repr.flags,
        exec_time_ms: dec.repr.exec_time_ms,
        memory_mb: dec.repr.memory_mb,
        output_kb: dec.repr.output_kb,
        origin,
        flavour: Some(dec.flavour),
    })
}

fn read_tcpdb(bytes: &[u8]) -> Result<Vec<SourceEntry>, String> {
    let db = TcpDb::new_checked(bytes).map_err(|e| format!("not a valid TCPDB container: {e}"))?;
    let mut out = Vec::with_capacity(db.count() as usize);
    for e in db.entries() {
        let e = e.map_err(|e| format!("TCPDB: {e}"))?;
        let name = std::str::from_utf8(e.name)
            .map_err(|_| format!("entry at byte {}: name is not UTF-8", e.offset))?;
        out.push(from_descriptor(name, e.descriptor, format!("entry at byte {}", e.offset))?);
    }
    Ok(out)
}

/// `commands` of tcp_export.json, keeping duplicate keys (a JSON map would silently keep the last).
struct Commands(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for Commands {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Commands;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of commands")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Commands, A::Error> {
                let mut v = Vec::new();
                while let Some((k, val)) = m.next_entry::<String, serde_json::Value>()? {
                    v.push((k, val));
                }
                Ok(Commands(v))
            }
        }
        d.deserialize_map(V)
    }
}

#[derive(serde::Deserialize)]
struct Export {
    commands: Commands,
}

fn read_json(bytes: &[u8]) -> Result<Vec<SourceEntry>, String> {
    let ex: Export = serde_json::from_slice(bytes).map_err(|e| format!("not a tcp_export.json: {e}"))?;
    let mut out = Vec::with_capacity(ex.commands.0.len());
    for (name, v) in ex.commands.0 {
        let origin = format!("commands.{name}");
        let h = v
            .get("binary_hex")
            .and_then(|h| h.as_str())
            .ok_or_else(|| format!("{origin}: no binary_hex string"))?;
        let d = parse_hex(h).map_err(|e| format!("{origin}.binary_hex: {e}"))?;
        out.push(from_descriptor(&name, &d, origin)?);
    }
    Ok(out)
}

fn risk_histogram(flags: impl Iterator<Item = Flags>) -> [u64; Risk::COUNT] {
    let mut h = [0u64; Risk::COUNT];
    for f in flags {
        h[f.risk() as usize] += 1;
    }
    h
}

/// The histogram as `{"SAFE": n, …}` in risk order.
#[derive(Serialize, Debug)]
struct Histogram {
    #[serde(rename = "SAFE")]
    safe: u64,
    #[serde(rename = "LOW_RISK")]
    low: u64,
    #[serde(rename = "MEDIUM_RISK")]
    medium: u64,
    #[serde(rename = "HIGH_RISK")]
    high: u64,
    #[serde(rename = "CRITICAL")]
    critical: u64,
    #[serde(rename = "UNKNOWN")]
    unknown: u64,
}

impl Histogram {
    fn of(h: [u64; Risk::COUNT]) -> Histogram {
        let [safe, low, medium, high, critical, unknown] = h;
        Histogram { safe, low, medium, high, critical, unknown }
    }
    fn line(&self) -> String {
        format!(
            "SAFE {}  LOW_RISK {}  MEDIUM_RISK {}  HIGH_RISK {}  CRITICAL {}  UNKNOWN {}",
            self.safe, self.low, self.medium, self.high, self.critical, self.unknown
        )
    }
}

impl BuildArgs {
    fn exec(self) -> CliResult {
        let from = self.from.display().to_string();
        let bytes = std::fs::read(&self.from).map_err(|e| fail(format!("{from}: {e}")))?;
        let format = self.format.unwrap_or_else(|| guess_format(&self.from, &bytes));
        let entries = match format {
            SourceFormat::Tsv => read_tsv(&bytes),
            SourceFormat::Tcpdb => read_tcpdb(&bytes),
            SourceFormat::Json => read_json(&bytes),
        }
        .map_err(|e| fail(format!("{from} ({format}): {e}")))?;
        // Duplicates first, by name, with both origins (the builder would report positions only).
        let mut seen: HashMap<&str, usize> = HashMap::with_capacity(entries.len());
        for (i, e) in entries.iter().enumerate() {
            if let Some(&j) = seen.get(e.name.as_str()) {
                return Err(fail(format!(
                    "{from}: duplicate name {:?} ({} and {}); refusing to build",
                    e.name, entries[j].origin, e.origin
                )));
            }
            seen.insert(&e.name, i);
        }
        let mut b = Builder::with_capacity(entries.len());
        b.density(if self.compact { Density::Compact } else { Density::Fast });
        for e in &entries {
            b.push(EntrySpec {
                name: e.name.as_bytes(),
                flags: e.flags,
                exec_time_ms: e.exec_time_ms,
                memory_mb: e.memory_mb,
                output_kb: e.output_kb,
            });
        }
        let image = b.build().map_err(|err| build_error(&from, &entries, err))?;
        // Belt and braces: the image must load before it replaces anything.
        let reg = Registry::load(&image).map_err(|e| fail(format!("built image does not validate: {e}")))?;
        write_atomic(&self.out, &image).map_err(|e| fail(format!("{}: {e}", self.out.display())))?;
        let hist = Histogram::of(risk_histogram(reg.iter().map(|e| e.flags())));
        println!(
            "built {} from {from} ({format}): {} entries read, {} written, {} bytes",
            self.out.display(),
            entries.len(),
            reg.len(),
            image.len()
        );
        println!("risk: {}", hist.line());
        if format != SourceFormat::Tsv {
            let count = |f: Flavour| entries.iter().filter(|e| e.flavour == Some(f)).count();
            println!(
                "descriptors verified: {} knowledge-base (flags normalised), {} spec, {} registry",
                count(Flavour::KnowledgeBase),
                count(Flavour::Spec),
                count(Flavour::Registry)
            );
        }
        if entries.is_empty() {
            eprintln!(
                "tcapd: warning: {from} has no entries: every command will be unknown under this image"
            );
        }
        Ok(ExitCode::SUCCESS)
    }
}

fn build_error(from: &str, entries: &[SourceEntry], err: BuildError) -> CliError {
    let who = |i: usize| entries.get(i).map(|e| format!("{:?} ({})", e.name, e.origin)).unwrap_or_default();
    fail(match err {
        BuildError::DuplicateName { first, second } => {
            format!("{from}: duplicate name {} and {}; refusing to build", who(first), who(second))
        }
        BuildError::DuplicateId { id, first, second } => format!(
            "{from}: command id {} of {} collides with {}; refusing to build",
            hex32(id),
            who(second),
            who(first)
        ),
        BuildError::EmptyName { index } => format!("{from}: empty name ({})", who(index)),
        other => format!("{from}: {other}"),
    })
}

#[derive(Serialize, Debug)]
struct Section {
    offset: u32,
    len: u32,
    buckets: Option<u32>,
    home_buckets: Option<u32>,
    max_probe: Option<u32>,
}

#[derive(Serialize, Debug)]
struct InspectEntry {
    name: String,
    id: String,
    risk: &'static str,
    flags: String,
    flag_names: Vec<&'static str>,
    exec_time_ms: u32,
    memory_mb: u16,
    output_kb: u16,
}

#[derive(Serialize, Debug)]
struct InspectJson {
    file: String,
    valid: bool,
    magic: String,
    version: u16,
    header_len: u16,
    total_len: u32,
    file_len: usize,
    entries: u32,
    max_words: u32,
    checksum: String,
    checksum_computed: String,
    checksum_ok: bool,
    id_hash_multiplier: String,
    name_hash_seed: String,
    id_table: Section,
    /// Entries stored past their id's home bucket (`Registry::displaced_ids`).
    ids_displaced: usize,
    name_table: Section,
    record_heap: Section,
    risk_histogram: Histogram,
    entry_list: Option<Vec<InspectEntry>>,
}

fn rd16(b: &[u8], at: usize) -> u16 {
    b.get(at..at + 2).map_or(0, |s| u16::from_le_bytes([s[0], s[1]]))
}
fn rd32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4).map_or(0, |s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}
fn rd64(b: &[u8], at: usize) -> u64 {
    b.get(at..at + 8).map_or(0, |s| u64::from_le_bytes(s.try_into().unwrap_or([0; 8])))
}

impl InspectArgs {
    fn exec(self) -> CliResult {
        let file = self.file.display().to_string();
        let bytes = std::fs::read(&self.file).map_err(|e| fail(format!("{file}: {e}")))?;
        let reg =
            Registry::load(&bytes).map_err(|e| fail(format!("{file}: not a valid registry image: {e}")))?;
        let b = &bytes[..];
        let stored = rd32(b, hdr::CHECKSUM);
        let computed = registry::image_checksum(b);
        let section = |off, len, buckets: Option<(usize, usize, usize)>| Section {
            offset: rd32(b, off),
            len: rd32(b, len),
            buckets: buckets.map(|(t, _, _)| rd32(b, t)),
            home_buckets: buckets.map(|(_, h, _)| rd32(b, h)),
            max_probe: buckets.map(|(_, _, p)| rd32(b, p)),
        };
        let j = InspectJson {
            file: file.clone(),
            valid: true,
            magic: String::from_utf8_lossy(&b[..8]).trim_end_matches('\0').to_string(),
            version: rd16(b, hdr::VERSION),
            header_len: rd16(b, hdr::HEADER_LEN),
            total_len: rd32(b, hdr::TOTAL_LEN),
            file_len: b.len(),
            entries: rd32(b, hdr::COUNT),
            max_words: rd32(b, hdr::MAX_WORDS),
            checksum: hex32(stored),
            checksum_computed: hex32(computed),
            checksum_ok: stored == computed,
            id_hash_multiplier: hex32(rd32(b, hdr::ID_MULT)),
            name_hash_seed: format!("{:#018x}", rd64(b, hdr::NAME_SEED)),
            id_table: section(
                hdr::ID_OFF,
                hdr::ID_LEN,
                Some((hdr::ID_BUCKETS, hdr::ID_HOME, hdr::ID_MAX_PROBE)),
            ),
            ids_displaced: reg.displaced_ids(),
            name_table: section(
                hdr::NAME_OFF,
                hdr::NAME_LEN,
                Some((hdr::NAME_BUCKETS, hdr::NAME_HOME, hdr::NAME_MAX_PROBE)),
            ),
            record_heap: section(hdr::REC_OFF, hdr::REC_LEN, None),
            risk_histogram: Histogram::of(risk_histogram(reg.iter().map(|e| e.flags()))),
            entry_list: self.entries.then(|| {
                // Name order (the image stores entries in id-table order).
                let mut entries: Vec<_> = reg.iter().collect();
                entries.sort_unstable_by(|a, b| a.name().cmp(b.name()));
                entries
                    .into_iter()
                    .map(|e| InspectEntry {
                        name: String::from_utf8_lossy(e.name()).into_owned(),
                        id: hex32(e.id()),
                        risk: e.risk().as_str(),
                        flags: hex32(e.flags().0),
                        flag_names: e.flags().names().collect(),
                        exec_time_ms: e.exec_time_ms(),
                        memory_mb: e.memory_mb(),
                        output_kb: e.output_kb(),
                    })
                    .collect()
            }),
        };
        if self.json {
            print_json(&j)?;
            return Ok(ExitCode::SUCCESS);
        }
        println!("{file}: valid registry image");
        println!("  magic        {:?}  version {}  header {} bytes", j.magic, j.version, j.header_len);
        println!("  size         {} bytes (header says {})", j.file_len, j.total_len);
        println!("  entries      {}  (most words in a name: {})", j.entries, j.max_words);
        println!(
            "  checksum     {} CRC-32C, computed {} ({})",
            j.checksum,
            j.checksum_computed,
            if j.checksum_ok { "ok" } else { "MISMATCH" }
        );
        println!("  seeds        id multiplier {}, name seed {}", j.id_hash_multiplier, j.name_hash_seed);
        for (n, s) in
            [("id table", &j.id_table), ("name table", &j.name_table), ("record heap", &j.record_heap)]
        {
            print!("  {n:<12} offset {:>8}, {:>8} bytes", s.offset, s.len);
            if let (Some(t), Some(h), Some(p)) = (s.buckets, s.home_buckets, s.max_probe) {
                print!(", {t} buckets ({h} home), max probe {p}");
            }
            println!();
        }
        let share = 100.0 * j.ids_displaced as f64 / f64::from(j.entries.max(1));
        println!(
            "  displaced    {} of {} ids past their home bucket ({share:.1} %; each such lookup probes \
             on, on a mispredicted branch)",
            j.ids_displaced, j.entries
        );
        println!("  risk         {}", j.risk_histogram.line());
        if let Some(list) = &j.entry_list {
            println!();
            println!(
                "{:<32} {:<10} {:<11} {:>8} {:>6} {:>6}  flags",
                "name", "id", "risk", "exec_ms", "mem_mb", "out_kb"
            );
            for e in list {
                println!(
                    "{:<32} {:<10} {:<11} {:>8} {:>6} {:>6}  {} [{}]",
                    e.name,
                    e.id,
                    e.risk,
                    e.exec_time_ms,
                    e.memory_mb,
                    e.output_kb,
                    e.flags,
                    e.flag_names.join("|")
                );
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}
