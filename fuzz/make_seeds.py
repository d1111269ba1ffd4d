#!/usr/bin/env python3
"""Writes the checked-in fuzz seeds: fuzz/seeds/<target>/<name>.bin.

Run from anywhere: python3 fuzz/make_seeds.py. The files are committed; this
script only documents how each was made and lets us change them on purpose.

sps_decode seeds are SPS encodings written by hand. wrapper_buffer seeds are
BufferOp sequences in the byte format arbitrary 1.5 decodes (what
libfuzzer-sys hands the target): per op a keep-going byte 1, the variant as a
u32 scaled to the variant count, then the fields in order (integers little-
endian, bool = low bit of a byte, Vec<u8> = 1,byte pairs ended by 0, String =
its bytes up front with its length taken from the END of the data).
tests/fuzz_corpus.rs checks that every wrapper_buffer seed still decodes to
several operations, so a format change in arbitrary cannot silently turn the
seeds into noise.
"""
import os
import struct


def u64(n): return struct.pack('<Q', n)
def u32(n): return struct.pack('<I', n)
def s(b):
    if isinstance(b, str): b = b.encode()
    return u64(len(b)) + b

SPS_DECODE = {
 'empty': b'',
 'bool_true': b'\x01',
 'bool_invalid_byte_02': b'\x02',
 'u32_42': u32(42),
 'u64_max': u64(2**64 - 1),
 'truncated_u64': b'\x01\x02\x03',
 'string_foo': s('foo'),
 'string_empty': s(''),
 'string_invalid_utf8': s(b'ok\xff\xfe'),
 'string_length_exceeds_input': u64(1000) + b'abc',
 'length_prefix_u64_max': u64(2**64 - 1) + b'\x00' * 8,
 'arglist_true_42_foo': b'\x01' + struct.pack('<i', 42) + s('foo'),
 'seq_of_strings': u64(3) + s('a') + s('bc') + s(''),
 'seq_of_u64': u64(2) + u64(1) + u64(2),
 'seq_of_units_count_100': u64(100),
 'nested_byte_seqs': u64(2) + s(b'\x00\x01') + s(b'\xff' * 9),
 'option_some_u64': b'\x01' + u64(7),
 'option_none': b'\x00',
 'option_some_some_true': b'\x01\x01\x01',
 'addr_range_start_end': u64(0x1000) + u64(0x2000),
 'addr_range_end_before_start': u64(0x2000) + u64(0x1000),
 'error_success': b'\x00',
 'error_failure_msg': b'\x01' + s('it broke'),
 'error_failure_invalid_utf8': b'\x01' + s(b'\xc3\x28'),
 'expected_u32_value': b'\x01' + u32(5),
 'expected_u32_failure_bad': b'\x00' + s('bad'),
 'expected_seq_errors': u64(3) + b'\x00' + b'\x01' + s('e1') + b'\x00',
 'map_two_entries': u64(2) + u32(1) + s('one') + u32(2) + s('two'),
 'map_duplicate_key': u64(2) + u32(1) + s('one') + u32(1) + s('uno'),
 'map_str_keys': u64(2) + s('b') + b'\x01' + u64(9) + s('a') + b'\x00' + u64(0),
 'wrapper_buffer_bytes': s(b'\x10' * 12),
 'addr_and_buffer_pairs': u64(1) + u64(0xdead) + s(b'args'),
 'tuple_u8_u16_u64_some_str': b'\x07' + struct.pack('<H', 300) + u64(1) + b'\x01' + s('x'),
 'trailing_bytes_after_u8': b'\x05\x06\x07',
}

# wrapper_buffer: encodes BufferOp sequences in arbitrary 1.5's format (as libfuzzer-sys
# decodes Vec<BufferOp> with arbitrary_take_rest). Front bytes are consumed in
# order; string lengths are taken from the end of the remaining data.
VARIANTS = ["Allocate","CopyFrom","CopyFromCStr","OutOfBandError","FromError","FromCParts","Write",
 "RawRoundTrip","LegacyRoundTrip","Clone","Take","Drop","IntoResult","SpsRoundTrip","CAllocate",
 "CFromRange","CFromString","COutOfBandError","CRead","CDispose"]
N = len(VARIANTS)
def variant(i):
    x = (i * 2**32 + N - 1) // N
    assert (x * N) >> 32 == i
    return struct.pack('<I', x)
class Enc:
    def __init__(s): s.front = bytearray(); s.back = []  # back: length bytes in read order
    def u8(s, v): s.front += bytes([v])
    def u16(s, v): s.front += struct.pack('<H', v)
    def u32(s, v): s.front += struct.pack('<I', v)
    def b(s, v): s.u8(1 if v else 0)
    def vec(s, bs):
        for x in bs: s.front += bytes([1, x])
        s.front += b'\x00'
    def string(s, text):
        t = text.encode(); assert all(c < 0x80 for c in t)
        s.back.append(len(t)); s.front += t
    def done(s):
        data = bytes(s.front) + bytes(reversed(s.back))
        assert len(data) <= 256
        return data
def ops(*items):
    e = Enc()
    for name, *fields in items:
        e.u8(1)  # keep going
        e.front += variant(VARIANTS.index(name))
        for kind, v in fields:
            getattr(e, kind)(v)
    # After the last op the data must be exhausted (or a 0 keep-going byte).
    return e.done()
def slot(i): return ('u8', i)
WRAPPER_BUFFER = {
 'small_bytes_write_raw_round_trip': ops(('CopyFrom', ('vec', [1,2,3])), ('Write', slot(0), ('u16', 1), ('u8', 0xAA)), ('RawRoundTrip', slot(0)), ('CRead', slot(0))),
 'large_bytes_legacy_round_trip_clone': ops(('CopyFrom', ('vec', list(range(20)))), ('LegacyRoundTrip', slot(0)), ('Clone', slot(0)), ('Write', slot(1), ('u16', 19), ('u8', 0xFF)), ('CRead', slot(1)), ('CRead', slot(0))),
 'boundary_sizes_8_and_9': ops(('Allocate', ('u16', 8)), ('Allocate', ('u16', 9)), ('Write', slot(0), ('u16', 7), ('u8', 7)), ('Write', slot(1), ('u16', 8), ('u8', 9)), ('SpsRoundTrip', slot(0), ('u32', 1)), ('SpsRoundTrip', slot(1), ('u32', 2)), ('RawRoundTrip', slot(1))),
 'oob_error_into_result_clone_c_read': ops(('OutOfBandError', ('string', 'it failed')), ('IntoResult', slot(0)), ('Clone', slot(0)), ('CRead', slot(1)), ('LegacyRoundTrip', slot(0))),
 'c_strings_and_sps_round_trip': ops(('CopyFromCStr', ('vec', [104, 105])), ('CFromString', ('vec', [120, 0, 121])), ('SpsRoundTrip', slot(0), ('u32', 7)), ('SpsRoundTrip', slot(1), ('u32', 0xFFFFFFFF))),
 'c_parts_large_and_non_utf8_error': ops(('FromCParts', ('vec', list(range(12))), ('b', False)), ('FromCParts', ('vec', [0xff, 0xfe]), ('b', True)), ('Clone', slot(1)), ('CDispose', slot(0)), ('Take', slot(1)), ('IntoResult', slot(2))),
 'c_api_constructors_and_accessors': ops(('CAllocate', ('u16', 0)), ('CAllocate', ('u16', 100)), ('CFromRange', ('vec', list(range(1, 11))), ('b', False)), ('CFromRange', ('vec', [1, 2]), ('b', True)), ('COutOfBandError', ('vec', [98, 97, 100])), ('CRead', slot(1)), ('CRead', slot(3)), ('CRead', slot(4)), ('CDispose', slot(4))),
 'eviction_take_and_drop': ops(*([('CopyFrom', ('vec', [i] * (i + 1)))for i in range(10)] + [('Take', slot(3)), ('Drop', slot(0)), ('Clone', slot(2))])),
 'errors_from_results_encode_as_empty': ops(('FromError', ('u8', 1), ('string', 'remote'), ('b', True)), ('FromError', ('u8', 2), ('string', 'decode'), ('b', False)), ('SpsRoundTrip', slot(0), ('u32', 3)), ('IntoResult', slot(1))),
 'empty_buffers_everywhere': ops(('Allocate', ('u16', 0)), ('CopyFrom', ('vec', [])), ('CFromRange', ('vec', []), ('b', True)), ('CDispose', slot(0)), ('RawRoundTrip', slot(1)), ('LegacyRoundTrip', slot(2)), ('SpsRoundTrip', slot(2), ('u32', 0)), ('Take', slot(1))),
}


if __name__ == '__main__':
    here = os.path.dirname(os.path.abspath(__file__))
    for target, seeds in [('sps_decode', SPS_DECODE), ('wrapper_buffer', WRAPPER_BUFFER)]:
        for name, data in seeds.items():
            with open(os.path.join(here, 'seeds', target, name + '.bin'), 'wb') as f:
                f.write(data)
        print(target, len(seeds), 'seeds')
