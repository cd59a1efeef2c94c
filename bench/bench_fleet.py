#!/usr/bin/env python3
"""Fleet benchmark (issue 11): many generated repositories listed by a loopback GitHub-like API,
audited with --jobs 1 and --jobs 2; an incremental re-run of a big repository after 10 new
commits; 3 shards + merge against the single run.

    .venv/bin/python bench/bench_fleet.py                       # 50 repositories of 1500 commits, 20k incremental
    .venv/bin/python bench/bench_fleet.py --repos 12 --commits 1000 --big-commits 5000   # quicker

Repositories come from bench/gen_synth_repo.py (the project's generator), built in a temp folder
outside this repository (or --workdir) and removed afterwards unless --keep. Times: wall clock and
CPU (user + system of the whole process tree, from RUSAGE_CHILDREN); memory: the largest sum of RSS
over the audit's process tree alive at once (sampled every 20 ms). Every figure in one table comes
from the same run: on a shared machine compare ratios, not absolute times.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, List, Tuple

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = ROOT / "bench" / "gen_synth_repo.py"
ENV = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, LC_ALL="C", NO_PROXY="127.0.0.1")
for _name in ("CI", "GITHUB_TOKEN", "GITHUB_API_URL", "GIT_DIR"):
    ENV.pop(_name, None)


def tree_rss_kib(pid: int) -> int:
    """RSS (KiB) of `pid` and every descendant alive now."""
    children: Dict[int, List[int]] = {}
    rss: Dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
            rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE") // 1024
        except (OSError, IndexError, ValueError):
            continue
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo += children.get(p, [])
    return total


def measured(args: List[str], cwd: Path, env: Dict[str, str]) -> Tuple[float, float, int, int, str]:
    """(wall s, CPU s of the tree, peak tree RSS KiB, exit code, stderr) of a pit-guard run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pit_guard", *args], cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    err: List[bytes] = []
    reader = threading.Thread(target=lambda: err.append(proc.stderr.read() if proc.stderr else b""))
    reader.start()
    peak = 0
    while proc.poll() is None:
        peak = max(peak, tree_rss_kib(proc.pid))
        time.sleep(0.02)
    reader.join()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, peak, proc.returncode, b"".join(err).decode("utf-8", "replace")


def generate(out: Path, commits: int, seed: int, files: int, bundle_kb: int) -> None:
    subprocess.run(
        [
            sys.executable,
            str(GENERATOR),
            str(out),
            "--ground-truth",
            str(out) + ".truth.json",
            "--commits",
            str(commits),
            "--files",
            str(files),
            "--seed",
            str(seed),
            "--bundle-kb",
            str(bundle_kb),
        ],
        env=ENV,
        check=True,
        stdout=subprocess.DEVNULL,
    )


class ForgeAPI:
    """GET /orgs/bench/repos: the generated repositories' file:// URLs, 100 a page."""

    def __init__(self, urls: List[str]) -> None:
        self.urls = urls
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
                page = int(query.get("page", "1"))
                items = [
                    {"full_name": f"bench/r{i}", "clone_url": u, "fork": False, "archived": False}
                    for i, u in enumerate(outer.urls)
                ][(page - 1) * 100 : page * 100]
                data = json.dumps(items).encode()
                self.send_response(200)
                if page * 100 < len(outer.urls):
                    self.send_header(
                        "Link", f'<{outer.base}/orgs/bench/repos?per_page=100&page={page + 1}>; rel="next"'
                    )
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"


def fleet_part(work: Path, args: argparse.Namespace) -> None:
    urls = []
    start = time.perf_counter()
    for i in range(args.repos):
        bare = work / f"r{i}.git"
        generate(bare, args.commits, 1000 + i, args.files, args.bundle_kb)
        urls.append(bare.as_uri())
    print(f"generated {args.repos} repositories of ~{args.commits} commits in {time.perf_counter() - start:.0f} s")
    api = ForgeAPI(urls)
    env = dict(ENV, PIT_GUARD_CACHE_DIR=str(work / "cache"))
    print("| run | repositories | wall s | CPU s | peak RSS of the tree (MB) | exit |")
    print("|---|---|---|---|---|---|")
    rows = [("--jobs 1", args.repos, 1), ("--jobs 2", args.repos, 2), ("--jobs 2", max(1, args.repos // 2), 2)]
    reports = {}
    for label, count, jobs in rows:
        api.urls = urls[:count]
        clones = work / f"clones-{jobs}-{count}"
        report = work / f"fleet-{jobs}-{count}.json"
        wall, cpu, peak, code, err = measured(
            [
                "audit",
                "--github-org",
                "bench",
                "--github-api-url",
                api.base,
                "--jobs",
                str(jobs),
                "--clone-dir",
                str(clones),
                "--format",
                "json",
                "--output",
                str(report),
            ],
            work,
            env,
        )
        reports[(jobs, count)] = report
        print(f"| {label} (cold clone cache) | {count} | {wall:.1f} | {cpu:.1f} | {peak / 1024:.0f} | {code} |")
        if code not in (0, 1):
            print(err[-2000:])
    api.urls = urls
    same = reports[(1, args.repos)].read_bytes() == reports[(2, args.repos)].read_bytes()
    print(f"\n--jobs 1 and --jobs 2 reports identical: {same}")
    findings = len(json.loads(reports[(2, args.repos)].read_text())["findings"])
    print(f"findings in the fleet report: {findings}")
    # shards
    clones = work / f"clones-2-{args.repos}"
    parts = []
    for i in (1, 2, 3):
        part = work / f"shard{i}.json"
        measured(
            [
                "audit",
                "--github-org",
                "bench",
                "--github-api-url",
                api.base,
                "--shard",
                f"{i}/3",
                "--clone-dir",
                str(clones),
                "--format",
                "json",
                "--output",
                str(part),
            ],
            work,
            env,
        )
        parts.append(str(part))
    merged = work / "merged.json"
    measured(["merge", *parts, "--format", "json", "--output", str(merged)], work, env)
    sizes = [len(json.loads(Path(p).read_text())["findings"]) for p in parts]
    print(
        f"3 shards ({sizes} findings) + merge == single run, byte for byte: "
        f"{merged.read_bytes() == reports[(2, args.repos)].read_bytes()}"
    )
    api.server.shutdown()


def incremental_part(work: Path, args: argparse.Namespace) -> None:
    big = work / "big.git"
    start = time.perf_counter()
    generate(big, args.big_commits, 7, args.files * 2, 1024)
    print(f"\ngenerated a {args.big_commits}-commit repository in {time.perf_counter() - start:.0f} s")
    env = dict(ENV, PIT_GUARD_CACHE_DIR=str(work / "cache-inc"))
    state, clones = work / "state.sqlite", work / "clones-inc"
    common = [big.as_uri(), "--incremental", "--state", str(state), "--clone-dir", str(clones), "--format", "json"]
    first = measured(["audit", *common, "--output", str(work / "inc1.json")], work, env)
    # 10 new commits, one of them holding a new token, pushed to the "remote"
    tree = work / "big-work"
    subprocess.run(["git", "clone", "-q", str(big), str(tree)], env=ENV, check=True)
    token = "pit-" + "4f0c2a9e-1b7d-4c3e-9a8f-" + hashlib.sha256(str(time.time()).encode()).hexdigest()[:12]
    for i in range(10):
        (tree / f"bench-new-{i}.txt").write_text(f"change {i}\n" + (f"GHL_TOKEN={token}\n" if i == 5 else ""))
        subprocess.run(["git", "add", "-A"], cwd=tree, env=ENV, check=True)
        subprocess.run(
            ["git", "-c", "user.name=b", "-c", "user.email=b@x", "commit", "-qm", f"new {i}"],
            cwd=tree,
            env=ENV,
            check=True,
        )
    subprocess.run(["git", "push", "-q", "origin", "HEAD"], cwd=tree, env=ENV, check=True)
    second = measured(["audit", *common, "--output", str(work / "inc2.json")], work, env)
    full = measured(
        [*["audit", big.as_uri(), "--clone-dir", str(clones), "--format", "json"], "--output", str(work / "full.json")],
        work,
        env,
    )
    print("| run | wall s | CPU s | peak RSS of the tree (MB) | exit |")
    print("|---|---|---|---|---|")
    for label, (wall, cpu, peak, code, _) in (
        ("first --incremental run", first),
        ("after 10 commits", second),
        ("full audit (no state), same clone", full),
    ):
        print(f"| {label} | {wall:.1f} | {cpu:.1f} | {peak / 1024:.0f} | {code} |")
    print(
        f"second/first: wall {second[0] / first[0]:.2f}x, CPU {second[1] / first[1]:.2f}x "
        f"(second/full: wall {second[0] / full[0]:.2f}x, CPU {second[1] / full[1]:.2f}x)"
    )
    print("second run:", [line for line in second[4].splitlines() if "incremental:" in line])
    fp = hashlib.sha256(f"ghl-private-integration-token:{token}".encode()).hexdigest()
    inc = json.loads((work / "inc2.json").read_text())["findings"]
    print(
        f"new token reported: {fp in {f['fingerprint'] for f in inc}}; "
        f"report identical to the full audit: {(work / 'inc2.json').read_bytes() == (work / 'full.json').read_bytes()}"
        f" ({len(inc)} findings)"
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repos", type=int, default=50)
    ap.add_argument("--commits", type=int, default=1500)
    ap.add_argument("--files", type=int, default=300)
    ap.add_argument("--bundle-kb", type=int, default=64)
    ap.add_argument("--big-commits", type=int, default=20000)
    ap.add_argument("--skip-fleet", action="store_true")
    ap.add_argument("--skip-incremental", action="store_true")
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="pit-guard-fleet-", dir=args.workdir))
    try:
        if not args.skip_fleet:
            fleet_part(work, args)
        if not args.skip_incremental:
            incremental_part(work, args)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
