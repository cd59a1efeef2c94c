"""Fuzz the detector: random bytes and mutated real-shaped tokens, for a given time.

    .venv/bin/python bench/fuzz_detect.py --minutes 3

Each input is built from a seed (random.Random(seed)), so a failure is reproduced by its seed
alone: the repro file holds the seed, the mutation steps and a redacted preview, never the input
itself (it may hold token-shaped text). Checks per input: scan_bytes never raises; with small
windows, scan_stream gives exactly scan_bytes' findings; inputs of 64 KB or more are timed, and
the worst seconds per MB is printed (a super-linear case shows up there). The stream check
skips inputs outside scan_stream's documented contract (a token-character run over 1 KB there). Tokens are synthetic.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import random
import re
import sys
import tempfile
import time
import traceback
import urllib.parse
import uuid
from typing import List, Tuple

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from pit_guard.detection import detect  # noqa: E402
from pit_guard.detection.rules import RULES  # noqa: E402
from pit_guard.finding import redact_text  # noqa: E402

NOW = 1_750_000_000.0
SEEDS_TOKENS = [p.value for rule in RULES for p in rule.positives] + [
    "pit-" + str(uuid.UUID(int=random.Random(i).getrandbits(128), version=4)) for i in range(4)
]
FRAGMENTS = [
    b"pit-",
    b"eyJ",
    b".eyJ",
    b"secret",
    b"SSO_KEY",
    b"=",
    b'": "',
    b"\\n",
    b"%3D",
    b"%2F",
    b"\n",
    b"\r\n",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\x00",
    b"pit-guard: allow",
    b"services.leadconnectorhq.com/hooks/",
    b"/webhook-trigger/",
    b"highlevel",
    b"ghl",
    b"cGl0LT",
    b"==",
    b"AMf-vB",
    b"token-id",
    b"AIzaSyB_w3vXmsI7WeQtrIOkjR6xTRVN5uOieiE",
    b"backend.leadconnectorhq.com/hooks/",
    b"api.agency-crm.io/hooks/",
]


def _wrap(rng: random.Random, data: bytes) -> Tuple[bytes, str]:
    kind = rng.choice(["base64", "base64url", "url", "json", "utf-16-le", "utf-16", "utf-32", "nested-base64"])
    if kind == "base64":
        return base64.b64encode(data), kind
    if kind == "base64url":
        return base64.urlsafe_b64encode(data), kind
    if kind == "nested-base64":
        return base64.b64encode(b"k: " + base64.b64encode(data)), kind
    if kind == "url":
        return urllib.parse.quote(data, safe="").encode(), kind
    if kind == "json":
        return json.dumps({"k": data.decode("latin-1")}).encode(), kind
    return data.decode("latin-1").encode(kind), kind


def _mutate(rng: random.Random, data: bytes) -> Tuple[bytes, str]:
    op = rng.choice(["truncate", "flip", "insert-nul", "insert-unicode", "insert-fragment", "wrap", "repeat", "splice"])
    if not data:
        return bytes(rng.getrandbits(8) for _ in range(rng.randrange(64))), "random"
    at = rng.randrange(len(data) + 1)
    if op == "truncate":
        return data[:at], op
    if op == "flip" and at < len(data):
        return data[:at] + bytes([data[at] ^ (1 << rng.randrange(8))]) + data[at + 1 :], op
    if op == "insert-nul":
        return data[:at] + b"\x00" * rng.randrange(1, 4) + data[at:], op
    if op == "insert-unicode":
        return data[:at] + rng.choice(["é", "€", "😀", "\u2028", "\ufeff"]).encode() + data[at:], op
    if op == "insert-fragment":
        return data[:at] + rng.choice(FRAGMENTS) + data[at:], op
    if op == "wrap":
        return _wrap(rng, data)
    if op == "repeat":
        return data * rng.randrange(2, 64), op
    return data[:at] + rng.choice(SEEDS_TOKENS).encode() + data[at:], op


def make_input(seed: int) -> Tuple[bytes, List[str]]:
    rng = random.Random(seed)
    steps: List[str] = []
    if rng.random() < 0.2:
        data = rng.randbytes(rng.randrange(4096))
        steps.append("random-bytes")
    else:
        data = rng.choice(SEEDS_TOKENS).encode()
        steps.append("token")
    for _ in range(rng.randrange(1, 6)):
        data, step = _mutate(rng, data)
        steps.append(step)
    if rng.random() < 0.05:  # a big input for the time check
        data = (data + b"\n") * (256 * 1024 // (len(data) + 1) + 1)
        steps.append("grow-to-256KB")
    return data[: 4 << 20], steps


_SMALL = {"_MAX_B64_RUN": 1024, "_CONTEXT_WINDOW": 120, "_MAX_TOKEN": 4096}
# scan_stream is exact for base64 runs up to _MAX_B64_RUN and tokens up to _MAX_TOKEN (see
# detect.stream_overlap): inputs with a longer run of token characters are outside that contract.
_LONG_RUN = re.compile(rb"[A-Za-z0-9+/=_.%-]{1024,}")


def stream_checkable(data: bytes) -> bool:
    return not (_LONG_RUN.search(data) or _LONG_RUN.search(data.replace(b"\x00", b"")))


def stream_matches(data: bytes, chunk: int) -> bool:
    saved = {name: getattr(detect, name) for name in _SMALL}
    try:
        for name, value in _SMALL.items():
            setattr(detect, name, value)
        whole = detect.scan_bytes(data, "f", now=NOW, keep_allowed=True)
        return detect.scan_stream(io.BytesIO(data).read, "f", chunk_size=chunk, now=NOW, keep_allowed=True) == whole
    finally:
        for name, value in saved.items():
            setattr(detect, name, value)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=None, help="first seed (default: random)")
    parser.add_argument("--replay", type=int, default=None, help="run one seed and show its traceback")
    args = parser.parse_args()
    if args.replay is not None:
        data, steps = make_input(args.replay)
        print("steps:", " ".join(steps), f"({len(data)} bytes)")
        detect.scan_bytes(data, "f", now=NOW)
        print("stream checkable:", stream_checkable(data), "matches:", stream_matches(data, 256 + args.replay % 4000))
        return 0
    seed = args.seed if args.seed is not None else random.SystemRandom().randrange(1 << 32)
    deadline = time.monotonic() + args.minutes * 60
    count, total_bytes, failures, worst = 0, 0, 0, (0.0, 0, "")
    started = time.monotonic()
    while time.monotonic() < deadline:
        data, steps = make_input(seed)
        problem = ""
        try:
            t = time.perf_counter()
            detect.scan_bytes(data, "f", now=NOW)
            elapsed = time.perf_counter() - t
            if len(data) >= 64 * 1024 and elapsed / (len(data) / 1e6) > worst[0]:
                worst = (elapsed / (len(data) / 1e6), seed, " ".join(steps))
            if (
                len(data) <= 16 * 1024
                and seed % 4 == 0
                and stream_checkable(data)
                and not stream_matches(data, 256 + seed % 4000)
            ):
                problem = "scan_stream differs from scan_bytes"
        except Exception:  # noqa: BLE001 - what the fuzzer is looking for
            problem = traceback.format_exc(limit=6)
        if problem:
            failures += 1
            handle, path = tempfile.mkstemp(prefix="pit-guard-fuzz-", suffix=".txt")
            with os.fdopen(handle, "w") as f:
                f.write(f"seed: {seed}\nsteps: {' '.join(steps)}\nlength: {len(data)}\n")
                f.write("replay: .venv/bin/python bench/fuzz_detect.py --replay " + str(seed) + "\n")
                f.write("preview (redacted): " + redact_text(data[:300].decode("latin-1")) + "\n")
                f.write(redact_text(problem) + "\n")
            print(f"FAIL seed {seed}: {redact_text(problem.strip().splitlines()[-1])} -> {path}", flush=True)
        count += 1
        total_bytes += len(data)
        seed += 1
    spent = time.monotonic() - started
    print(f"inputs: {count} in {spent:.0f} s = {count / spent:.0f} inputs/s, {total_bytes / spent / 1e6:.2f} MB/s")
    print(f"exceptions or stream mismatches: {failures}")
    print(f"worst seconds per MB (inputs >= 64 KB): {worst[0]:.3f} (seed {worst[1]}: {worst[2]})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
