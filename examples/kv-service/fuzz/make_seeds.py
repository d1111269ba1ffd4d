#!/usr/bin/env python3
"""Writes the kv_args seeds (fuzz/seeds/kv_args/): small SPS argument
buffers, each named for what it exercises. Run from anywhere."""
import pathlib
import struct

def string(b: bytes) -> bytes:
    """SPS string / sequence<char>: a u64 length, then the bytes."""
    return struct.pack("<Q", len(b)) + b

SEEDS = {
    "put_k_v.bin": string(b"k") + string(b"v"),
    "key_only.bin": string(b"job"),
    "empty_key_and_value.bin": string(b"") + string(b""),
    "long_key.bin": string(b"k" * 257) + string(b"v"),
    "huge_length_claim.bin": b"\xff" * 8,
    "not_utf8.bin": string(b"\xff\xfe") + string(b"v"),
    "truncated_value.bin": string(b"k") + struct.pack("<Q", 5) + b"ab",
    "empty.bin": b"",
}

out = pathlib.Path(__file__).resolve().parent / "seeds" / "kv_args"
out.mkdir(parents=True, exist_ok=True)
for name, data in SEEDS.items():
    (out / name).write_bytes(data)
print(f"wrote {len(SEEDS)} seeds to {out}")
