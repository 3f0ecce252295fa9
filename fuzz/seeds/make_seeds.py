#!/usr/bin/env python3
"""Writes the seed inputs of every fuzz target into fuzz/seeds/<target>/ (run from anywhere).

Seeds are small, hand-written examples of each target's input format; libFuzzer mutates them.
The generated files are committed; run this again after changing an input format.
"""
import json
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))


def leb(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def section(sid, body):
    return bytes([sid]) + leb(len(body)) + body


def name(s):
    b = s.encode()
    return leb(len(b)) + b


def module(memory=None, imported_memory=None, exports=(("_start", 0, 0),), extra=b""):
    """A module with one `() -> ()` function and optional memories."""
    out = b"\0asm\x01\0\0\0"
    out += section(1, b"\x01\x60\x00\x00")
    if imported_memory is not None:
        out += section(2, b"\x01" + name("env") + name("memory") + b"\x02" + imported_memory)
    out += section(3, b"\x01\x00")
    if memory is not None:
        out += section(5, b"\x01" + memory)
    body = b"".join(name(n) + bytes([kind]) + leb(idx) for n, kind, idx in exports)
    out += section(7, leb(len(exports)) + body)
    out += section(10, b"\x01\x02\x00\x0b")
    return out + extra


def write(target, items):
    folder = os.path.join(HERE, target)
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    for i, data in enumerate(items):
        if isinstance(data, str):
            data = data.encode()
        with open(os.path.join(folder, f"seed-{i:02}"), "wb") as f:
            f.write(data)


# wasm_ingest: [mode, cut] + module (mode bit 0 clear: raw bytes; bits 1-2: memory limit
# 0/1/16/65536 pages; bits 3-4: size limit plane/len/len-1/64; bits 5-7: entrypoint pick).
mem1 = b"\x00\x01"  # min 1, no max
huge = b"\x01" + leb(65536) + leb(65536)  # 4 GiB declared
mem64 = b"\x04" + leb(1 << 40)  # memory64, 2^40 pages initial
shared = b"\x03\x01\x02"  # shared, min 1, max 2
custom = section(0, name("name") + b"\x01\x02\x01\x00")
wasm = [
    bytes([0x04, 0]) + module(),
    bytes([0x04, 1]) + module(memory=mem1),
    bytes([0x06, 7]) + module(memory=huge),
    bytes([0x06, 0]) + module(memory=mem64),
    bytes([0x04, 3]) + module(memory=shared),
    bytes([0x04, 0]) + module(imported_memory=mem1),
    bytes([0x04, 2]) + module(memory=mem1, exports=(("_start", 0, 0), ("memory", 2, 0))),
    bytes([0x04, 0]) + module(exports=(("_start", 2, 0),)),
    bytes([0x04, 0]) + module(extra=custom),
    bytes([0x0C, 0]) + module(),
    bytes([0x04, 0]) + b"\0asm\x0d\0\x01\0",  # a component
    bytes([0x04, 0]) + b"\0asm\x01\0\0\0",
    bytes([0x01, 0]) + bytes(range(256)),
    bytes([0x23, 5]) + bytes(range(255, 0, -1)) * 2,
]
write("wasm_ingest", wasm)

NIL = "00000000-0000-0000-0000-000000000000"
UID = "0192f0a0-0000-7000-8000-000000000001"
TS = "2030-01-01T00:00:00Z"
deep = "[" * 5000 + "]" * 5000
requests = [
    (0, {"name": "hello", "entrypoint": "_start", "memory_pages": 16, "description": "x"}),
    (0, {"name": "h", "memory_pages": 4294967295}),
    (1, {"function_id": NIL, "version": 1, "selector": "tier=edge,region in (eu)",
         "strategy": {"kind": "batches", "batch_size": 1, "order_by": "label:region"}}),
    (1, {"function_id": NIL, "version": 2, "priority": -1000001,
         "strategy": {"kind": "canary", "max_failure_ratio": 1e308}}),
    (2, {"host": "*.example.com", "path": "/users/:id/...", "methods": ["GET"], "function_id": UID}),
    (3, {"version": 18446744073709551615, "name": "m1", "up_sql": "CREATE TABLE t (x)"}),
    (4, {"name": "edge-2", "pop": "fra1", "labels": {"tier": "edge"}, "capabilities": ["wasm"]}),
    (5, {"labels": {"example.com/tier": "edge"}, "lifecycle": "draining"}),
    (6, {"functions": [{"function_id": UID, "version": 1}], "schema_version": 3,
         "routes_revision": "r-1", "resources": {"cpu_percent": 12.5}}),
    (7, {"plan_id": NIL, "results": [], "state": {"schema_version": 1}}),
    (7, {"plan_id": UID, "results": [{"action_id": 0, "status": "failed", "error": "x"}]}),
    (8, {"kind": "flush_cache", "payload": {"a": [1, 2.5, None, True]}, "timeout_s": 60,
         "idempotency_key": "k1"}),
    (9, {"status": "succeeded", "output": {"ok": True}}),
    (10, {"name": "ci", "scopes": ["deploy", "read"], "expires_at": "2031-01-01T00:00:00+02:00"}),
    (11, {"grace_s": 18446744073709551615}),
    (12, {"refresh_token": "not-the-secret"}),
    (13, {"to_version": 1}),
    (14, {"points": [{"metric": "cpu.load", "value": 0.5, "labels": {"core": "0"}, "ts": TS}],
          "events": [{"kind": "function_trap", "level": "error", "message": "boom", "ts": TS}]}),
    (15, {"name": "f", "entrypoint": "_start", "memory_pages": 1, "max_execution_ms": 1,
          "max_concurrency": 1, "description": ""}),
    (16, {"name": "n", "pop": "p", "region": "", "labels": {}, "agent_version": "1",
          "capabilities": [], "memory_budget_bytes": None}),
    (17, {"functions": [], "schema_version": 0, "routes_revision": None, "sync_revision": None,
          "resources": {"cpu_percent": 0.0, "memory_bytes": 0, "disk_bytes": 0}}),
    (18, {"version": 1, "name": "m", "up_sql": "x", "down_sql": None}),
    (19, {"kind": "batches", "batch_percent": 50, "order_by": "pop"}),
    (20, "tier in (a,b),!canary"),
]
json_seeds = [bytes([k]) + json.dumps(v).encode() for k, v in requests]
json_seeds += [bytes([8]) + b'{"kind":"k","payload":' + deep.encode() + b"}",
               bytes([6]) + b'{"schema_version":1e999999}',
               bytes([14]) + b'{"points":[{"metric":"m","value":-0.0,"ts":"9999-12-31T23:59:60Z"}]}']
write("json_requests", json_seeds)

selectors = [
    "tier=edge,region in (eu,us),!canary\0tier=edge\nregion=eu",
    "example.com/tier notin (a,b), k!=v , k==\0example.com/tier=a",
    "a in (x,),b\0a=x",
    "é=ü\0é=ü",
    "\u202etier=edge\0tier=edge",
    "a" * 64 + "=b\0" + "a" * 63 + "=b",
    "x" * 4097,
    " , ",
    "!!a\0a=",
]
write("selector", selectors)

routes = [
    "api.example.com\0/users/:id\0GET,POST\0API.example.com:443\0GET\0/users/42?x=1",
    "*.example.com\0/static/...\0\0a.b.example.com.\0HEAD\0/static/a/b%2Fc",
    "\0/a/%41%2f/:x\0\0\0GET\0/a/A%2F/%C3%A9",
    "\0/%2e/a\0GET\0\0GET\0/a",
    "\0/a/b/\0DELETE\0\0DELETE\0/a/b/",
    "[::1]\0/\0\0[::1]:80\0GET\0/",
    "\0/:a/:a\0",
    "\0/" + "/".join(["s"] * 33) + "\0",
    "xn--bcher-kva.example\0/\u00e9\0",
]
write("route_pattern", routes)
