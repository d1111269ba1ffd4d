#!/usr/bin/env python3
"""Writes the checked-in seeds of the wire_message fuzz target:
fuzz/seeds/wire_message/<name>.bin. Run from anywhere.

A seed is a byte stream of SimpleRemoteEPC frames (32-byte little-endian
header: size incl. header, opcode, seqno, tag; then the payload). The oracle
(orc_rt::fuzzing::wire_message) rewrites, in each CallWrapper, a tag below
2^32 to the bootstrap symbol with that index in name order, a payload u64
0xF0F0F0F0F0F0F0kk to symbol kk's address, and 0xE0E0E0E0_kk_oooooo to the
base of the kk-th successful reservation plus oooooo. SYMBOLS below must list
the executor's bootstrap symbol names (tests/fuzz_corpus.rs replays the seeds,
and a seed reaching the wrong service still runs, but explores less).
"""
import os
import struct

SYMBOLS = sorted([
    "__llvm_orc_SimpleRemoteEPC_dispatch_ctx",
    "__llvm_orc_SimpleRemoteEPC_dispatch_fn",
    "__llvm_orc_SimpleExecutorMemoryManager_Instance",
    "__llvm_orc_SimpleExecutorMemoryManager_reserve_wrapper",
    "__llvm_orc_SimpleExecutorMemoryManager_initialize_wrapper",
    "__llvm_orc_SimpleExecutorMemoryManager_deinitialize_wrapper",
    "__llvm_orc_SimpleExecutorMemoryManager_release_wrapper",
    "__llvm_orc_SimpleExecutorDylibManager_Instance",
    "__llvm_orc_ExecutorSharedMemoryMapperService_Instance",
    "__llvm_orc_ExecutorSharedMemoryMapperService_Reserve",
    "__llvm_orc_ExecutorSharedMemoryMapperService_Initialize",
    "__llvm_orc_ExecutorSharedMemoryMapperService_Deinitialize",
    "__llvm_orc_ExecutorSharedMemoryMapperService_Release",
    "__llvm_orc_SimpleExecutorDylibManager_open_wrapper",
    "__llvm_orc_SimpleExecutorDylibManager_resolve_wrapper",
    "__llvm_orc_bootstrap_mem_write_uint8s_wrapper",
    "__llvm_orc_bootstrap_mem_write_uint16s_wrapper",
    "__llvm_orc_bootstrap_mem_write_uint32s_wrapper",
    "__llvm_orc_bootstrap_mem_write_uint64s_wrapper",
    "__llvm_orc_bootstrap_mem_write_pointers_wrapper",
    "__llvm_orc_bootstrap_mem_write_buffers_wrapper",
    "__llvm_orc_bootstrap_mem_read_uint8s_wrapper",
    "__llvm_orc_bootstrap_mem_read_uint16s_wrapper",
    "__llvm_orc_bootstrap_mem_read_uint32s_wrapper",
    "__llvm_orc_bootstrap_mem_read_uint64s_wrapper",
    "__llvm_orc_bootstrap_mem_read_pointers_wrapper",
    "__llvm_orc_bootstrap_mem_read_buffers_wrapper",
    "__llvm_orc_bootstrap_mem_read_strings_wrapper",
    "__llvm_orc_bootstrap_run_as_main_wrapper",
    "__llvm_orc_bootstrap_run_as_void_function_wrapper",
    "__llvm_orc_bootstrap_run_as_int_function_wrapper",
    "llvm_orc_registerEHFrameAllocAction",
    "llvm_orc_deregisterEHFrameAllocAction",
    "llvm_orc_registerJITLoaderGDBAllocAction",
])


def idx(name): return SYMBOLS.index(name)
def u8(n): return struct.pack('<B', n)
def u16(n): return struct.pack('<H', n)
def u32(n): return struct.pack('<I', n)
def u64(n): return struct.pack('<Q', n)
def sym(name): return u64(0xF0F0F0F0F0F0F000 | idx(name))
def base(k, off=0): return u64(0xE0E0E0E000000000 | (k << 24) | off)
def blob(b): return u64(len(b)) + b
def seq(items): return u64(len(items)) + b''.join(items)


def frame(op, seqno, tag, payload=b'', size=None):
    return struct.pack('<QQQQ', 32 + len(payload) if size is None else size, op, seqno, tag) + payload


def call(seqno, name, payload):
    return frame(3, seqno, idx(name), payload)


MM = "__llvm_orc_SimpleExecutorMemoryManager_Instance"
DM = "__llvm_orc_SimpleExecutorDylibManager_Instance"
SM = "__llvm_orc_ExecutorSharedMemoryMapperService_Instance"
P = "__llvm_orc_bootstrap_mem_"


def reserve(seqno, size=0x2000):
    return call(seqno, "__llvm_orc_SimpleExecutorMemoryManager_reserve_wrapper", sym(MM) + u64(size))


def segment(group, addr, size, content):
    return u8(group) + addr + u64(size) + blob(content)


def action(fn, args=b''):
    return u64(fn) + blob(args)


SEEDS = {
    'empty': b'',
    'hangup': frame(1, 0, 0, b'\x00'),
    'reserve_then_end_of_stream': reserve(1),
    'reserve_write_read_release': b''.join([
        reserve(1),
        call(2, P + "write_uint8s_wrapper", seq([base(0, 1) + u8(0x5a)])),
        call(3, P + "write_uint16s_wrapper", seq([base(0, 2) + u16(0x1234)])),
        call(4, P + "write_uint32s_wrapper", seq([base(0, 4) + u32(7)])),
        call(5, P + "write_uint64s_wrapper", seq([base(0, 8) + u64(9)])),
        call(6, P + "write_pointers_wrapper", seq([base(0, 16) + base(0)])),
        call(7, P + "write_buffers_wrapper", seq([base(0, 24) + blob(b'str\x00')])),
        call(8, P + "read_uint8s_wrapper", seq([base(0, 1)])),
        call(9, P + "read_uint16s_wrapper", seq([base(0, 2)])),
        call(10, P + "read_uint32s_wrapper", seq([base(0, 4)])),
        call(11, P + "read_uint64s_wrapper", seq([base(0, 8)])),
        call(12, P + "read_pointers_wrapper", seq([base(0, 16)])),
        call(13, P + "read_buffers_wrapper", seq([base(0) + base(0, 32)])),
        call(14, P + "read_strings_wrapper", seq([base(0, 24)])),
        call(15, "__llvm_orc_SimpleExecutorMemoryManager_release_wrapper", sym(MM) + seq([base(0)])),
    ]),
    'initialize_with_actions_deinitialize_release': b''.join([
        reserve(1, 0x3000),
        call(2, "__llvm_orc_SimpleExecutorMemoryManager_initialize_wrapper",
             sym(MM) + seq([segment(1, base(0), 0x1000, b'rodata'), segment(5, base(0, 0x1000), 0x1000, b'\xc3'),
                            segment(3, base(0, 0x2000), 0x1000, b'')])
             + seq([action(4, b'a') + action(8, b'b'), action(0) + action(12)])),
        # Writing into the finalized code segment: an error result.
        call(3, P + "write_uint8s_wrapper", seq([base(0, 0x1000) + u8(0)])),
        call(4, "__llvm_orc_SimpleExecutorMemoryManager_deinitialize_wrapper", sym(MM) + seq([base(0)])),
        call(5, "__llvm_orc_SimpleExecutorMemoryManager_initialize_wrapper",
             sym(MM) + seq([segment(3, base(0), 0x3000, b'again')]) + seq([action(1) + action(0)])),
        call(6, "__llvm_orc_SimpleExecutorMemoryManager_initialize_wrapper",
             sym(MM) + seq([segment(3, base(0), 0x1000, b'again')]) + seq([])),
        call(7, "__llvm_orc_SimpleExecutorMemoryManager_release_wrapper", sym(MM) + seq([base(0)])),
    ]),
    'initialize_outside_and_overlapping': b''.join([
        reserve(1),
        call(2, "__llvm_orc_SimpleExecutorMemoryManager_initialize_wrapper",
             sym(MM) + seq([segment(3, u64(0x10000), 0x1000, b'x')]) + seq([])),
        call(3, "__llvm_orc_SimpleExecutorMemoryManager_initialize_wrapper",
             sym(MM) + seq([segment(3, base(0, 0x1000), 0x2000, b'x')]) + seq([])),
        call(4, "__llvm_orc_SimpleExecutorMemoryManager_initialize_wrapper", sym(MM) + seq([]) + seq([])),
        call(5, "__llvm_orc_SimpleExecutorMemoryManager_initialize_wrapper",
             sym(MM) + seq([segment(3, base(0), 4, b'toolong')]) + seq([])),
    ]),
    'dylib_open_and_resolve': b''.join([
        call(1, "__llvm_orc_SimpleExecutorDylibManager_open_wrapper", sym(DM) + blob(b'') + u64(0)),
        call(2, "__llvm_orc_SimpleExecutorDylibManager_open_wrapper", sym(DM) + blob(b'libm.so.6') + u64(0)),
        call(3, "__llvm_orc_SimpleExecutorDylibManager_resolve_wrapper",
             u64(1) + seq([blob(b'malloc') + u8(0), blob(b'') + u8(1)])),
    ]),
    'shared_memory_reserve_initialize_deinitialize_release': b''.join([
        call(1, "__llvm_orc_ExecutorSharedMemoryMapperService_Reserve", sym(SM) + u64(0x3000)),
        call(2, "__llvm_orc_ExecutorSharedMemoryMapperService_Initialize",
             sym(SM) + base(0) + seq([u8(1) + base(0, 0x1000) + u64(0x58), u8(5) + base(0, 0x2000) + u64(0x1a)])
             + seq([action(4) + action(8)])),
        call(3, P + "write_uint8s_wrapper", seq([base(0) + u8(1)])),
        call(4, "__llvm_orc_ExecutorSharedMemoryMapperService_Deinitialize", sym(SM) + seq([base(0, 0x1000)])),
        call(5, "__llvm_orc_ExecutorSharedMemoryMapperService_Release", sym(SM) + seq([base(0)])),
    ]),
    'run_code_refused_in_the_sandbox': b''.join([
        call(1, "__llvm_orc_bootstrap_run_as_main_wrapper", u64(0x1000) + seq([blob(b'prog')])),
        call(2, "__llvm_orc_bootstrap_run_as_void_function_wrapper", u64(0)),
        call(3, "__llvm_orc_bootstrap_run_as_int_function_wrapper", u64(0) + u32(1)),
    ]),
    'eh_frame_actions_called_as_legacy_wrappers': b''.join([
        call(1, "llvm_orc_registerEHFrameAllocAction", u64(64) + u64(64)),
        call(2, "llvm_orc_deregisterEHFrameAllocAction", u64(64) + u64(80)),
        call(3, "llvm_orc_registerJITLoaderGDBAllocAction", u64(0) + u64(0) + u8(1)),
    ]),
    'undecodable_arguments': b''.join(call(i + 1, name, b'\x01\x02\x03') for i, name in enumerate(SYMBOLS)),
    'huge_sequence_count': call(1, P + "read_buffers_wrapper", u64(2**63)),
    'duplicate_seqnos': reserve(7) + reserve(7),
    'unregistered_address': frame(3, 1, 0xdead00000000, b'x'),
    'truncated_header': frame(3, 1, 0)[:10],
    'truncated_payload': frame(3, 1, 0, b'\x00' * 100)[:60],
    'size_too_small': frame(3, 1, 0, size=8),
    'huge_size': frame(3, 1, 0, b'\x00' * 16, size=2**62),
    'unknown_opcode': frame(9, 0, 0),
    'setup_from_controller': frame(0, 0, 0),
    'result_for_no_call': reserve(1) + frame(2, 77, 0, b'\x00'),
}

if __name__ == '__main__':
    out = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'seeds', 'wire_message')
    os.makedirs(out, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(out, name + '.bin'), 'wb') as f:
            f.write(data)
    print(f"wrote {len(SEEDS)} seeds to {out}")
