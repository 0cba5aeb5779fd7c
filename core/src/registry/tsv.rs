//! The registry source table format (`core/data/builtin.tsv`): one command per line, seven
//! tab-separated columns `name, risk, flags, exec_ms, memory_mb, output_kb, reason`; blank lines and
//! lines starting with `#` are ignored.
//!
//! Self-contained (`core`, `alloc` and the parent's `Flags`/`Risk` only) so that `core/build.rs` can
//! include it with `#[path]` and compile the built-in table with exactly the parser `tcapd registry
//! build --format tsv` uses.

use super::{Flags, Risk};
use alloc::vec::Vec;
use core::fmt;

/// Number of columns of a row.
pub const COLUMNS: usize = 7;

/// A one-line description of the columns, for error messages.
pub const COLUMNS_HELP: &str = "expected 7 tab-separated columns: name, risk (SAFE|LOW|MEDIUM|HIGH|CRITICAL), \
     flags (comma-separated canonical names or -), exec_ms, memory_mb, output_kb, reason";

/// One parsed row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TsvRow<'t> {
    /// 1-based line number in the source text.
    pub line: usize,
    /// The command name (words separated by single spaces).
    pub name: &'t str,
    /// Canonical flags, risk bit included.
    pub flags: Flags,
    /// Typical execution time, ms.
    pub exec_time_ms: u32,
    /// Typical memory, MB.
    pub memory_mb: u16,
    /// Typical output, KB.
    pub output_kb: u16,
    /// Why the risk level is what it is.
    pub reason: &'t str,
}

/// What is wrong with a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TsvErrorKind {
    /// The row does not have [`COLUMNS`] columns (carries how many it has).
    Columns(usize),
    /// The name is empty, padded, or has doubled spaces or tabs.
    BadName,
    /// The risk column is not `SAFE`, `LOW`, `MEDIUM`, `HIGH` or `CRITICAL` (or the `_RISK` spellings).
    BadRisk,
    /// A risk flag (`SAFE`..`CRITICAL`) appears in the flags column.
    RiskFlagInFlags,
    /// A flag name that is not a canonical flag name.
    UnknownFlag,
    /// A performance column (3, 4 or 5, 0-based) is not a decimal number.
    BadNumber {
        /// 0-based column.
        column: u8,
    },
    /// A performance value does not fit its field (exec u32, memory u16, output u16).
    OutOfRange {
        /// 0-based column.
        column: u8,
    },
    /// The reason column is shorter than 8 characters.
    MissingReason,
}

/// Column names, by 0-based index.
const COLUMN_NAMES: [&str; COLUMNS] =
    ["name", "risk", "flags", "exec_ms", "memory_mb", "output_kb", "reason"];

fn column_name(c: u8) -> &'static str {
    COLUMN_NAMES.get(c as usize).copied().unwrap_or("?")
}

impl fmt::Display for TsvErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TsvErrorKind::Columns(n) => write!(f, "{n} columns, want {COLUMNS}"),
            TsvErrorKind::BadName => f.write_str("bad name (words separated by single spaces, no padding)"),
            TsvErrorKind::BadRisk => f.write_str("bad risk (SAFE, LOW, MEDIUM, HIGH or CRITICAL)"),
            TsvErrorKind::RiskFlagInFlags => {
                f.write_str("risk flag in the flags column (use the risk column)")
            }
            TsvErrorKind::UnknownFlag => f.write_str("unknown flag name in the flags column"),
            TsvErrorKind::BadNumber { column } => {
                write!(f, "bad {} (not a decimal number)", column_name(column))
            }
            TsvErrorKind::OutOfRange { column } => {
                write!(f, "{} out of range (exec u32, memory u16, output u16)", column_name(column))
            }
            TsvErrorKind::MissingReason => f.write_str("missing reason for the risk level"),
        }
    }
}

/// A row that could not be parsed: its 1-based line and what is wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TsvError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub kind: TsvErrorKind,
}

impl fmt::Display for TsvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.kind)
    }
}

/// Parses one data line (not blank, not a comment).
pub fn parse_row(line: usize, text: &str) -> Result<TsvRow<'_>, TsvError> {
    let err = |kind| TsvError { line, kind };
    let mut cols = [""; COLUMNS];
    let mut n = 0;
    for c in text.split('\t') {
        if let Some(slot) = cols.get_mut(n) {
            *slot = c;
        }
        n += 1;
    }
    if n != COLUMNS {
        return Err(err(TsvErrorKind::Columns(n)));
    }
    let [name, risk, flag_list, exec, mem, out, reason] = cols;
    if name.is_empty() || name.trim() != name || name.contains("  ") {
        return Err(err(TsvErrorKind::BadName));
    }
    let risk = match Risk::parse(risk) {
        Some(Risk::Unknown) | None => return Err(err(TsvErrorKind::BadRisk)),
        Some(r) => r,
    };
    let mut flags = Flags(0);
    if flag_list != "-" {
        for f in flag_list.split(',') {
            match Flags::from_name(f.trim()) {
                Some(bit) if bit.0 & Flags::RISK_MASK != 0 => return Err(err(TsvErrorKind::RiskFlagInFlags)),
                Some(bit) => flags = flags.union(bit),
                None => return Err(err(TsvErrorKind::UnknownFlag)),
            }
        }
    }
    let num = |s: &str, column: u8, max: u64| -> Result<u64, TsvError> {
        let v = s.parse::<u64>().map_err(|_| err(TsvErrorKind::BadNumber { column }))?;
        if v > max { Err(err(TsvErrorKind::OutOfRange { column })) } else { Ok(v) }
    };
    let exec = num(exec, 3, u32::MAX as u64)? as u32;
    let mem = num(mem, 4, u16::MAX as u64)? as u16;
    let out = num(out, 5, u16::MAX as u64)? as u16;
    if reason.trim().len() < 8 {
        return Err(err(TsvErrorKind::MissingReason));
    }
    Ok(TsvRow {
        line,
        name,
        flags: flags.with_risk(risk),
        exec_time_ms: exec,
        memory_mb: mem,
        output_kb: out,
        reason: reason.trim(),
    })
}

/// Parses a whole table: every line that is neither blank nor a `#` comment is a row.
pub fn parse(text: &str) -> Result<Vec<TsvRow<'_>>, TsvError> {
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        rows.push(parse_row(i + 1, line)?);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_row_and_skips_comments() {
        let t = "# c\n\nrm\tCRITICAL\tDESTRUCTIVE,FILE_MODIFICATION\t10\t2\t1\tdeletes files irreversibly\n";
        let rows = parse(t).unwrap();
        assert_eq!(rows.len(), 1);
        let r = &rows[0];
        assert_eq!((r.line, r.name), (3, "rm"));
        assert_eq!(r.flags, Flags::CRITICAL.union(Flags::DESTRUCTIVE).union(Flags::FILE_MODIFICATION));
        assert_eq!((r.exec_time_ms, r.memory_mb, r.output_kb), (10, 2, 1));
    }

    #[test]
    fn refuses_bad_rows_with_line_and_kind() {
        let bad = [
            ("a\tSAFE\t-\t1\t1\t1", TsvErrorKind::Columns(6)),
            (" a\tSAFE\t-\t1\t1\t1\treason long", TsvErrorKind::BadName),
            ("a\tUNKNOWN\t-\t1\t1\t1\treason long", TsvErrorKind::BadRisk),
            ("a\tSAFE\tSAFE\t1\t1\t1\treason long", TsvErrorKind::RiskFlagInFlags),
            ("a\tSAFE\tNOPE\t1\t1\t1\treason long", TsvErrorKind::UnknownFlag),
            ("a\tSAFE\t-\tx\t1\t1\treason long", TsvErrorKind::BadNumber { column: 3 }),
            ("a\tSAFE\t-\t1\t65536\t1\treason long", TsvErrorKind::OutOfRange { column: 4 }),
            ("a\tSAFE\t-\t1\t1\t1\tshort", TsvErrorKind::MissingReason),
        ];
        for (row, kind) in bad {
            let text = alloc::format!("# header\n{row}\n");
            assert_eq!(parse(&text), Err(TsvError { line: 2, kind }), "{row:?}");
        }
    }
}
