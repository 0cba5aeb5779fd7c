//! The registry, descriptor and simulation subcommands (`decode`, `lookup`, `registry`, `simulate`).
//!
//! Each submodule holds one subcommand's clap arguments and its `exec`. JSON output is built from
//! `serde::Serialize` structs whose field names are frozen and documented in docs/CLI.md. Files are
//! written with [`tcap_driver::snapshot::write_atomic`] (temporary file, fsync, rename, fsync directory).

pub mod decode;
pub mod lookup;
pub mod registry;
pub mod simulate;

use std::io::Write;

use tcap_driver::cli::CliError;

/// An error with exit code 1 (`tcapd: <message>`).
pub fn fail(message: impl Into<String>) -> CliError {
    CliError { code: 1, message: message.into() }
}

/// Parses hex written with or without spaces, colons, underscores and `0x`/`\x` prefixes
/// (`"54 43 50 02"`, `"0x5443…"`, `"0x54 0x43"`).
pub fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let mut digits = Vec::with_capacity(s.len());
    for tok in s.split(|c: char| c.is_whitespace() || c == ':' || c == '_' || c == ',') {
        let t = tok
            .strip_prefix("0x")
            .or_else(|| tok.strip_prefix("0X"))
            .or_else(|| tok.strip_prefix("\\x"))
            .unwrap_or(tok);
        for c in t.chars() {
            match c.to_digit(16) {
                Some(d) => digits.push(d as u8),
                None => return Err(format!("not a hex digit: {c:?}")),
            }
        }
    }
    if digits.is_empty() {
        return Err("no hex digits".into());
    }
    if digits.len() % 2 != 0 {
        return Err(format!("odd number of hex digits ({})", digits.len()));
    }
    Ok(digits.chunks(2).map(|p| p[0] << 4 | p[1]).collect())
}

/// Lower-case hex of `bytes`, no separators.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// `0x` and eight hex digits.
pub fn hex32(v: u32) -> String {
    format!("{v:#010x}")
}

/// Prints `value` as pretty JSON on stdout.
pub fn print_json<T: serde::Serialize>(value: &T) -> Result<(), CliError> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value).map_err(|e| fail(format!("writing JSON: {e}")))?;
    writeln!(out).map_err(|e| fail(format!("writing JSON: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_forms() {
        let want = vec![0x54, 0x43, 0x50, 0x02];
        for s in ["54435002", "54 43 50 02", "0x54435002", "0x54 0x43 0x50 0x02", "54:43:50:02", "5443 5002"]
        {
            assert_eq!(parse_hex(s).as_ref(), Ok(&want), "{s}");
        }
        assert!(parse_hex("5443500").unwrap_err().contains("odd"));
        assert!(parse_hex("54zz").unwrap_err().contains("'z'"));
        assert!(parse_hex("  ").is_err());
        assert_eq!(hex(&want), "54435002");
    }
}
