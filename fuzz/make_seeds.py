#!/usr/bin/env python3
"""Writes fuzz seed corpora into fuzz/corpus/<target>/.

Two kinds of seeds:
* `seed-*` files: tiny synthetic fixtures built here from scratch (committed);
* `data-*` files: derived at run time from ../shared/data/upstream/tcp_complete.db and from an event
  stream made by `tcapd gen` (never committed: the corpus directories ignore everything but `seed-*`).

Usage: make_seeds.py [--tcapd PATH] [--data DIR]   (run from anywhere; paths default to the repo layout)
"""

import argparse
import hashlib
import os
import struct
import subprocess
import sys
import tempfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- descriptors ------------------------------------------------------------------------------------


def cmd_id(name):
    return struct.unpack(">I", hashlib.md5(name).digest()[:4])[0]


def spec_descriptor(name, flags, exec_ms, mem, out, cmd_len):
    body = b"TCP\x02" + struct.pack(">HIIHHHH", 2, cmd_id(name), flags, exec_ms, mem, out, cmd_len)
    return body + struct.pack(">H", zlib.crc32(body) & 0xFFFF)


def registry_descriptor(name, flags, exec_ms, mem, out):
    body = b"TCP\x02" + struct.pack(">HIIIHH", 2, cmd_id(name), flags, exec_ms, mem, out)
    return body + struct.pack(">H", zlib.crc32(body) & 0xFFFF)


def kb_descriptor(name, flags, exec_ms, mem, out):
    body = b"TCP\x02" + struct.pack(">HIIIHH", 2, cmd_id(name), flags, exec_ms, mem, out)
    return body + struct.pack(">H", sum(body) & 0xFFFF)


def tcpdb(entries, created=1_700_000_000):
    """A TCPDB container from (name bytes, 24-byte descriptor) pairs (sorted here)."""
    entries = sorted(entries)
    body = b""
    offsets = []
    at = 22
    for name, desc in entries:
        offsets.append(at)
        rec = struct.pack(">H", len(name)) + name + desc
        body += rec
        at += len(rec)
    index = b"".join(struct.pack(">H", len(n)) + n + struct.pack(">Q", o) for (n, _), o in zip(entries, offsets))
    return b"TCPDB\x02" + struct.pack(">IQI", len(entries), created, len(index)) + body + index


def read_tcpdb(path):
    with open(path, "rb") as f:
        b = f.read()
    count, _, _ = struct.unpack(">IQI", b[6:22])
    at, out = 22, []
    for _ in range(count):
        (n,) = struct.unpack(">H", b[at : at + 2])
        out.append((b[at + 2 : at + 2 + n], b[at + 2 + n : at + 2 + n + 24]))
        at += 2 + n + 24
    return out


# ---- records ----------------------------------------------------------------------------------------

EV_HEADER = b"\x89TCAPEV\n" + struct.pack("<HHH", 1, 32, 0) + b"\0\0"
DC_HEADER = b"\x89TCAPDC\n" + struct.pack("<HHH", 1, 32, 0) + b"\0\0"


def event(seq, t, agent, cmd, outcome=None):
    kind, oc = (0, 0) if outcome is None else (1, outcome)
    return struct.pack("<QQIIBB", seq, t, agent, cmd, kind, oc) + b"\0" * 6


def decision(seq, agent, cmd, dec, risk, astate, nstate, score, reasons):
    return struct.pack("<QIIBBBBiI", seq, agent, cmd, dec, risk, astate, nstate, score, reasons) + b"\0" * 4


# ---- snapshots --------------------------------------------------------------------------------------


def snapshot_payload(agents):
    p = struct.pack("<I", len(agents))
    for a in agents:
        p += struct.pack("<IIIIiI", *a)
    return p


def snapshot_file(payload):
    return b"TCAPSNAP" + struct.pack("<I", 1) + b"TESTENG1" + struct.pack("<QI", len(payload), zlib.crc32(payload)) + payload


def synthetic():
    # descriptor: one of each flavour.
    put("descriptor", "seed-spec-ls", spec_descriptor(b"ls", 0x1, 5, 1, 4, 2))
    put("descriptor", "seed-registry-rm", registry_descriptor(b"rm", 0x8 | 0x400, 120_000, 2, 1))
    put("descriptor", "seed-kb-cat", kb_descriptor(b"cat", 0x2 | 0x100, 10, 1, 64))
    # tcpdb: three synthetic entries.
    put("tcpdb", "seed-three", tcpdb([(b"cat", kb_descriptor(b"cat", 0x2, 10, 1, 64)),
                                      (b"ls", kb_descriptor(b"ls", 0x1, 5, 1, 4)),
                                      (b"rm", kb_descriptor(b"rm", 0x8 | 0x400, 100, 2, 1))]))
    # records: a header, a call, an outcome, a decision.
    put("records", "seed-ev-header", EV_HEADER)
    put("records", "seed-call", event(1, 10, 3, cmd_id(b"ls")))
    put("records", "seed-outcome", event(2, 11, 3, cmd_id(b"ls"), outcome=1))
    put("records", "seed-decision", decision(1, 3, cmd_id(b"ls"), 1, 1, 0, 0, -12, 5))
    # stream: opts byte, 8 split-seed bytes, stream (bit 0 of opts: the harness adds the header).
    evs = b"".join(event(i, 5 * i, i % 3, cmd_id([b"ls", b"rm", b"cat", b"curl"][i % 4]), 2 if i % 5 == 4 else None)
                   for i in range(12))
    put("stream", "seed-with-header", b"\x00" + struct.pack("<Q", 0x9E3779B97F4A7C15) + EV_HEADER + evs)
    put("stream", "seed-headerless", b"\x01" + struct.pack("<Q", 12345) + evs)
    # snapshot: a real 3-agent file, and the same payload framed by the harness (opts bit 3).
    agents = [(4, 1, 2, 0, 300, 0), (0, 0, 0, 0, 0, 0), (90, 40, 50, 7, 1700, 3)]
    put("snapshot", "seed-file", b"\x03" + snapshot_file(snapshot_payload(agents)))
    put("snapshot", "seed-payload", b"\x0b" + snapshot_payload(agents))
    # network: arbitrary-derived input; a handful of bytes is a small network with a few operations.
    put("network", "seed-small", bytes([6, 0]) + bytes(range(1, 60)))
    put("network", "seed-larger", bytes([70, 0]) + bytes((i * 37) % 256 for i in range(400)))
    # sketch: arbitrary-derived too.
    put("sketch", "seed-burst", bytes(range(0, 40)) + bytes([1, 0, 0, 3, 0, 4, 0]) * 60)
    # gate: arbitrary-derived operation sequences (checks, outcomes, time steps, policy/net changes).
    put("gate", "seed-mixed", bytes([0, 0]) + bytes((i * 53 + 7) % 256 for i in range(300)))
    put("gate", "seed-checks", bytes([1, 5]) + bytes([0, 1, 2, 3, 0, 0, 0, 9, 0, 0, 0, 0]) * 40)
    # registry: the built-in image as compiled by core/build.rs (a build output, so at run time and
    # never committed), found in the fuzz build or the main workspace's target directory.
    builtin = builtin_registry_image()
    if builtin:
        put("registry", "data-builtin", builtin)
        # The same image followed by probe lines for `resolve` and their length (the target's split).
        probe = b"git clone https://x\nrm -rf /\n  ls\t-la\nsudo  apt install\n"
        put("registry", "data-builtin-probes", builtin + probe + bytes([len(probe)]))
    else:
        print("seeds: no built builtin_registry.bin yet (run after a build), registry unseeded",
              file=sys.stderr)


def builtin_registry_image():
    import glob
    pats = [os.path.join(HERE, "target", "*", "*", "build", "tcap-core-*", "out", "builtin_registry.bin"),
            os.path.join(HERE, "..", "target", "*", "build", "tcap-core-*", "out", "builtin_registry.bin")]
    found = sorted((p for pat in pats for p in glob.glob(pat)), key=os.path.getmtime)
    if not found:
        return None
    with open(found[-1], "rb") as f:
        return f.read()


def from_data(data_dir, tcapd):
    db = os.path.join(data_dir, "upstream", "tcp_complete.db")
    if os.path.exists(db):
        entries = read_tcpdb(db)
        step = max(1, len(entries) // 64)
        for i, (name, desc) in enumerate(entries[::step]):
            put("descriptor", f"data-{i:03}", desc)
        for i in range(0, min(len(entries), 96), 12):
            put("tcpdb", f"data-{i:03}", tcpdb(entries[i : i + 12]))
        print(f"seeds: {len(entries[::step])} descriptors and mini-containers from {db}")
    else:
        print(f"seeds: {db} absent, synthetic seeds only", file=sys.stderr)
    if tcapd:
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "ev.bin")
            subprocess.run([tcapd, "gen", "--agents", "16", "--events", "2000", "--compromised", "0.25",
                            "--seed", "7", "-o", out], check=True, stdout=subprocess.DEVNULL)
            with open(out, "rb") as f:
                stream = f.read()
        recs = stream[16:]
        for i in range(4):
            put("stream", f"data-{i}", b"\x00" + struct.pack("<Q", i * 7919 + 1) + stream[: 16 + 32 * 40 * (i + 1)])
        put("stream", "data-headerless", b"\x01" + struct.pack("<Q", 99) + recs[: 32 * 200])
        for i in range(0, 32 * 64, 32 * 8):
            put("records", f"data-{i // 32:03}", recs[i : i + 32 * 8])
        print(f"seeds: stream and record seeds from `tcapd gen` ({len(recs) // 32} events)")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tcapd", default=None)
    ap.add_argument("--data", default=os.path.join(HERE, "..", "..", "..", "shared", "data"))
    ap.add_argument("--synthetic-only", action="store_true")
    a = ap.parse_args()
    synthetic()
    if not a.synthetic_only:
        data = a.data if os.path.isdir(a.data) else os.path.join(HERE, "..", "..", "shared", "data")
        from_data(data, a.tcapd)


if __name__ == "__main__":
    main()
