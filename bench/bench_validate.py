"""How long does validating N distinct tokens take under GoHighLevel's burst limit?

Starts the fake GoHighLevel server (tests/ghl_fake_server.py) on loopback with a per-request
latency and the burst limit enforced (429 with X-RateLimit-* headers past it), validates N freshly
generated PITs (uuid4, all answering 422 = live) and prints the wall time against the ideal bound
the limit allows.

    .venv/bin/python bench/bench_validate.py                         # 500 tokens, 100 per 10 s, 100 ms
    .venv/bin/python bench/bench_validate.py --tokens 60 --burst 20 --window 2   # a quick run
"""

from __future__ import annotations

import argparse
import collections
import math
import os
import sys
import time
import uuid
from typing import List, Optional

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [ROOT, os.path.join(ROOT, "tests")]

from ghl_fake_server import ENV_V1, ENV_V2, LIVE_422, FakeGHL  # noqa: E402

from pit_guard.finding import Finding  # noqa: E402
from pit_guard.validation.checks import validate_findings  # noqa: E402


def ideal_seconds(tokens: int, burst: int, window: float, latency: float, concurrency: Optional[int] = None) -> float:
    """The last window's first send cannot start before (windows - 1) * window; then its batch runs.

    With unlimited workers the batch takes one latency; with `concurrency` workers it takes
    ceil(batch / concurrency) latencies.
    """
    windows = math.ceil(tokens / burst)
    last_batch = tokens - (windows - 1) * burst
    rounds = 1 if concurrency is None else math.ceil(last_batch / concurrency)
    return (windows - 1) * window + rounds * latency


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=500)
    parser.add_argument("--burst", type=int, default=100, help="requests allowed per window (GoHighLevel: 100)")
    parser.add_argument("--window", type=float, default=10.0, help="burst window in seconds (GoHighLevel: 10)")
    parser.add_argument("--latency", type=float, default=0.1, help="server latency per request, seconds")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args(argv)

    bound = ideal_seconds(args.tokens, args.burst, args.window, args.latency)
    bound_pool = ideal_seconds(args.tokens, args.burst, args.window, args.latency, args.concurrency)
    findings = [
        Finding("ghl-private-integration-token", f"pit-{uuid.uuid4()}", "bench", i + 1, 1) for i in range(args.tokens)
    ]
    with FakeGHL(latency=args.latency, burst=args.burst, window=args.window, default=LIVE_422) as server:
        os.environ[ENV_V2], os.environ[ENV_V1] = server.base, server.v1_base
        os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1"
        started = time.monotonic()
        results = validate_findings(
            findings, concurrency=args.concurrency, timeout=10.0, total_timeout=max(120.0, 3 * bound_pool)
        )
        elapsed = time.monotonic() - started
        sent, limited = len(server.requests), server.rate_limited

    statuses = collections.Counter(r.validation.status if r.validation else "none" for r in results)
    print(
        f"tokens {args.tokens}, limit {args.burst} per {args.window:g}s, latency {args.latency * 1000:.0f} ms, "
        f"concurrency {args.concurrency}"
    )
    print(f"wall time        {elapsed:8.2f} s")
    print(f"ideal (limit)    {bound:8.2f} s   ({elapsed / bound:.3f}x)")
    print(f"{f'ideal ({args.concurrency} workers)':<17}{bound_pool:8.2f} s   ({elapsed / bound_pool:.3f}x)")
    print(f"requests sent    {sent:8d}   (429 from the server: {limited})")
    print("statuses         " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
    return 0 if statuses.get("live") == args.tokens else 1


if __name__ == "__main__":
    sys.exit(main())
