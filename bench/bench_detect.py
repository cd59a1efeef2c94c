"""Detection throughput on a generated, source-like corpus (nothing is committed: it is built here).

    .venv/bin/python bench/bench_detect.py            # ~200 MB, both backends
    .venv/bin/python bench/bench_detect.py --mb 50 --backend hyperscan --profile
    .venv/bin/python bench/bench_detect.py --mb 100 --backend hyperscan --cpu   # CPU time, not wall time

The corpus mixes Python, JS/TS, JSON, YAML, Markdown and .env-like files with realistic noise:
identifiers, UUIDs (also under `clientSecret`/`sso` keys of other services), hex hashes, base64
blobs, other services' JWTs, `cockpit-` images, minified 1 MB bundles, and a few planted GoHighLevel
credentials whose recall is checked. Files are 2-50 KB plus a few 1 MB bundles. scan_bytes runs
over every file on one core, in this process; the figure is total bytes / total scan time.
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import hashlib
import json
import os
import pstats
import random
import sys
import time
import uuid
from typing import List, Set, Tuple

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from pit_guard.detection import prefilter  # noqa: E402
from pit_guard.detection.detect import scan_bytes  # noqa: E402
from pit_guard.detection.rules import RULES_BY_ID  # noqa: E402

WORDS = (
    "user account order invoice customer contact location calendar pipeline stage opportunity "
    "message conversation appointment payment product price subscription webhook event handler "
    "request response client server config settings options params query result value items "
    "index count total status error retry timeout cache session token secret sso auth login "
    "logout profile avatar upload download render component props state effect reducer store "
    "router route path url host port database table column schema migration model view "
    "controller service repository factory builder adapter provider manager helper util"
).split()

OTHER_JWT = (  # jwt.io's well-known sample: HS256, {"sub":"1234567890","name":"John Doe","iat":1516239022}
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0"
    "IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c"
)


def _ident(rng: random.Random) -> str:
    a, b = rng.choice(WORDS), rng.choice(WORDS)
    return rng.choice([a + "_" + b, a + b.capitalize(), a.upper() + "_" + b.upper(), a])


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _line(rng: random.Random, kind: str) -> str:
    r = rng.random()
    name = _ident(rng)
    # Look-alikes at rates seen in source code: most files have none, some have one.
    if r < 0.02:
        return f'{name} = "{_uuid(rng)}"' if kind == "py" else f'  "{name}": "{_uuid(rng)}",'
    if r < 0.04:
        return f"    {name}_sha = '{hashlib.sha1(rng.randbytes(8)).hexdigest()}'"
    if r < 0.05:
        return f'  "integrity": "sha512-{base64.b64encode(rng.randbytes(64)).decode()}",'
    if r < 0.0505:
        return f'const clientSecret = process.env.CLIENT_SECRET || "{_uuid(rng)}";  // azure ad app'
    if r < 0.0507:
        return f"sso_enabled: true\nsso_provider_id: {_uuid(rng)}"
    if r < 0.0509:
        return f'headers = {{"Authorization": "Bearer {OTHER_JWT}"}}'
    if r < 0.0514:
        return f"    image: cockpit-{_uuid(rng)[:8]}:latest  # pitfall: pin the tag"
    if r < 0.0524:
        return f"JWT_SECRET={hashlib.sha256(rng.randbytes(8)).hexdigest()}"
    if r < 0.12:
        return "    " + " ".join(rng.choice(WORDS) for _ in range(rng.randrange(6, 16))) + "."
    if kind == "py":
        return f"    {name} = {_ident(rng)}({_ident(rng)}, {rng.randrange(1000)})  # {rng.choice(WORDS)}"
    if kind == "js":
        return f"  const {name} = await this.{_ident(rng)}({{ {_ident(rng)}: {rng.randrange(100)} }});"
    if kind == "json":
        return f'  "{name}": {json.dumps(rng.choice([rng.randrange(10**6), _ident(rng), True, None]))},'
    if kind == "yaml":
        return f"  {name}: {rng.choice([str(rng.randrange(1000)), _ident(rng), 'true'])}"
    return f"- **{_ident(rng)}**: " + " ".join(rng.choice(WORDS) for _ in range(rng.randrange(4, 12)))


def _pool(rng: random.Random, kind: str, size: int) -> str:
    lines: List[str] = []
    total = 0
    while total < size:
        line = _line(rng, kind)
        lines.append(line)
        total += len(line) + 1
    return "\n".join(lines) + "\n"


def _bundle(rng: random.Random, size: int) -> bytes:
    parts: List[str] = []
    total = 0
    while total < size:
        f = _ident(rng)
        part = rng.choice(
            [
                f"function {f}(e,t){{return e.{_ident(rng)}(t)||null}}",
                f'{f}:"{_uuid(rng)}"',
                f'var {f}="{base64.b64encode(rng.randbytes(rng.randrange(12, 90))).decode()}"',
                f"{f}=[{','.join(str(rng.randrange(999)) for _ in range(6))}]",
                f'{f}.label="{" ".join(rng.choice(WORDS) for _ in range(4))}"',
            ]
        )
        parts.append(part)
        total += len(part) + 1
    return ";".join(parts).encode()


def _planted(rng: random.Random) -> Tuple[str, str, str]:
    """(rule id, secret as reported, text to put in a file)."""
    choice = rng.randrange(5)
    if choice == 0:
        pit = "pit-" + _uuid(rng)
        return "ghl-private-integration-token", pit, f"GHL_API_TOKEN={pit}"
    if choice == 1:
        jwt = RULES_BY_ID["ghl-v1-location-api-key"].positives[0].value
        return "ghl-v1-location-api-key", jwt, f'  "apiKey": "{jwt}",'
    if choice == 2:
        hook = (
            "https://services.leadconnectorhq.com/hooks/"
            + "".join(rng.choice("ABCDEFabcdef0123456789") for _ in range(20))
            + "/webhook-trigger/"
            + _uuid(rng)
        )
        return "ghl-inbound-webhook-url", hook, f'  await fetch("{hook}", {{ method: "POST" }});'
    if choice == 3:
        secret = _uuid(rng)
        return "ghl-oauth-client-secret", secret, f"GHL_CLIENT_SECRET={secret}"
    pit = "pit-" + _uuid(rng)
    b64 = base64.b64encode(pit.encode()).decode()
    return "ghl-private-integration-token", pit, f"  GHL_PIT: {b64}"


def build_corpus(total_mb: float, seed: int = 7) -> Tuple[List[bytes], Set[Tuple[str, str]]]:
    rng = random.Random(seed)
    pools = {kind: _pool(rng, kind, 1_500_000).encode() for kind in ("py", "js", "json", "yaml", "md")}
    bundles = [_bundle(rng, 1_000_000) for _ in range(4)]
    target = int(total_mb * 1_000_000)
    files: List[bytes] = []
    planted: Set[Tuple[str, str]] = set()
    size = 0
    while size < target:
        if rng.random() < 0.004:
            body = rng.choice(bundles)
        else:
            pool = pools[rng.choice(list(pools))]
            n = rng.randrange(2_000, 50_000)
            at = rng.randrange(0, len(pool) - n)
            at = pool.find(b"\n", at) + 1
            body = pool[at : at + n]
        if rng.random() < 0.01:
            rule_id, secret, text = _planted(rng)
            planted.add((rule_id, secret))
            cut = body.find(b"\n", len(body) // 2) + 1
            body = body[:cut] + text.encode() + b"\n" + body[cut:]
        files.append(body)
        size += len(body)
    return files, planted


def run(files: List[bytes], planted: Set[Tuple[str, str]], backend: str, profile: bool, cpu: bool = False) -> None:
    clock = time.process_time if cpu else time.perf_counter
    used = prefilter.use_backend(backend)
    total = sum(map(len, files))
    found: Set[Tuple[str, str]] = set()
    profiler = cProfile.Profile() if profile else None
    start = clock()
    if profiler:
        profiler.enable()
    for data in files:
        for f in scan_bytes(data, now=1_750_000_000.0):
            found.add((f.rule_id, f.secret))
    if profiler:
        profiler.disable()
    elapsed = clock() - start
    recall = len(planted & found) / len(planted) if planted else 1.0
    extra = len(found - planted)
    print(
        f"{used:9s}: {total / 1e6:7.1f} MB in {len(files)} files, {elapsed:6.2f} s, "
        f"{total / 1e6 / elapsed:7.1f} MB/s, recall {recall:.3f} ({len(planted & found)}/{len(planted)}), "
        f"other findings {extra}"
    )
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(18)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=200.0, help="corpus size in MB (default 200)")
    parser.add_argument("--backend", choices=("both", "hyperscan", "python"), default="both")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the scan")
    parser.add_argument(
        "--cpu", action="store_true", help="time the scan in this process's CPU time (steadier on a shared machine)"
    )
    args = parser.parse_args()
    t = time.perf_counter()
    files, planted = build_corpus(args.mb)
    print(
        f"corpus: {sum(map(len, files)) / 1e6:.1f} MB, {len(files)} files, {len(planted)} planted "
        f"credentials, built in {time.perf_counter() - t:.1f} s"
    )
    for backend in ("hyperscan", "python") if args.backend == "both" else (args.backend,):
        run(files, planted, backend, args.profile, args.cpu)
    prefilter.use_backend("auto")
    return 0


if __name__ == "__main__":
    sys.exit(main())
