#!/usr/bin/env python3
"""History benchmark: `pit-guard audit` against `git cat-file --batch-all-objects --batch` on
synthetic repositories from bench/gen_synth_repo.py (this folder), with recall against its
ground truth, peak memory, and the pre-commit hook's whole-process latency.

    .venv/bin/python bench/bench_history.py --commits 5000 20000 50000

Repositories are built in a temp folder outside this repository (or --workdir) and removed
afterwards unless --keep. Every figure in one table comes from the same run: compare ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Dict, List, Tuple

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = ROOT / "bench" / "gen_synth_repo.py"
# Measure the repository, not the user's git configuration.
ENV = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, LC_ALL="C")
ENV.pop("CI", None)

# Runs a command and prints the largest RSS (KiB) of it and all its descendants: RUSAGE_CHILDREN
# of a fresh interpreter covers exactly that command's process tree.
_MAXRSS = (
    "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); "
    "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def sh(args: List[str], cwd: Path, **kw: object) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, env=ENV, check=True, **kw)  # type: ignore[call-overload]


def timed(args: List[str], cwd: Path, stdout: object = subprocess.DEVNULL) -> float:
    start = time.perf_counter()
    # stderr too: the hook's one-line summary per run is noise next to the table.
    subprocess.run(args, cwd=cwd, env=ENV, stdout=stdout, stderr=subprocess.DEVNULL, check=False)
    return time.perf_counter() - start


def build(work: Path, commits: int) -> Tuple[Path, Dict]:
    bare = work / f"synth{commits}.git"
    truth_file = work / f"synth{commits}.truth.json"
    clone = work / f"synth{commits}"
    if not clone.exists():
        sh(
            [sys.executable, str(GENERATOR), str(bare), "--ground-truth", str(truth_file), "--commits", str(commits)],
            work,
        )
        sh(["git", "clone", "-q", str(bare), str(clone)], work)  # remote-tracking branches, like a real clone
    return clone, json.loads(truth_file.read_text())


def _tree_rss_kib(root: int) -> int:
    """Summed VmRSS of `root` and its descendants now (Linux /proc; 0 elsewhere)."""
    parent_of: Dict[int, int] = {}
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    parent_of[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                pass
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, ppid in parent_of.items() if ppid in tree} - tree
        tree |= more
        grew = bool(more)
    total = 0
    for pid in tree:
        try:
            with open(f"/proc/{pid}/status") as f:
                total += next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), 0)
        except (OSError, ValueError):
            pass
    return total


def audit_once(clone: Path, report: Path) -> Tuple[float, int, int, int]:
    """Wall time, exit code, peak RSS of the largest process of the audit's tree (KiB, from
    RUSAGE_CHILDREN), and the largest sum over the tree's processes alive at once (sampled)."""
    cmd = [
        sys.executable,
        "-m",
        "pit_guard",
        "audit",
        str(clone),
        "--format",
        "json",
        "--show-secrets",
        "--output",
        str(report),
    ]
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", _MAXRSS, *cmd],
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    tree_peak = 0
    while proc.poll() is None:
        tree_peak = max(tree_peak, _tree_rss_kib(proc.pid))
        time.sleep(0.02)
    wall = time.perf_counter() - start
    assert proc.stdout is not None
    code, rss = proc.stdout.read().split()
    return wall, int(code), int(rss), tree_peak


def recall(report: Path, truth: Dict) -> Tuple[int, int, List[str], List[str], int]:
    """(found, planted, missed ids, decoys reported, other findings) from a --show-secrets report."""
    found = {f["secret"] for f in json.loads(report.read_text())["findings"]}
    planted = {s["value"]: s for s in truth["secrets"]}
    missed = [f"{s['id']} {s['kind']} {s['category']}" for v, s in planted.items() if v not in found]
    decoys = [f"{d['id']} {d['kind']}" for d in truth["decoys"] if d["value"] in found]
    return len(planted) - len(missed), len(planted), missed, decoys, len(found - set(planted))


def hook_latency(clone: Path, runs: int) -> float:
    """Median whole-process time of the pre-commit hook on a 10-file staged change."""
    files = sh(["git", "ls-files", "-z", "--", "*.py", "*.js", "*.yaml"], clone, capture_output=True).stdout
    names = [n for n in files.decode().split("\0") if n][:10]
    for i, name in enumerate(names):
        with open(clone / name, "a", encoding="utf-8") as f:
            f.write(f"\n# bench edit {i}\n")
    sh(["git", "add", "--", *names], clone)
    cmd = [sys.executable, "-m", "pit_guard", "hook", "pre-commit", *names]
    times = sorted(timed(cmd, clone) for _ in range(runs))
    sh(["git", "reset", "-q", "--hard"], clone)  # our own throwaway clone
    return statistics.median(times)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--commits", type=int, nargs="+", default=[5000, 20000, 50000])
    ap.add_argument("--runs", type=int, default=3, help="median of this many runs of each timing")
    ap.add_argument("--hook-runs", type=int, default=15)
    ap.add_argument("--hook-repo", type=int, default=20000, help="commits of the repository the hook is timed in")
    ap.add_argument("--workdir", help="reuse/keep repositories here (default: a temp folder, removed)")
    args = ap.parse_args()
    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="pit-guard-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    if ROOT in work.resolve().parents:
        sys.exit("--workdir must be outside the repository")
    rows = []
    try:
        for n in args.commits:
            clone, truth = build(work, n)
            report = work / f"audit{n}.json"
            timed(["git", "cat-file", "--batch-all-objects", "--batch"], clone)  # warm the page cache
            catfile = statistics.median(
                timed(["git", "cat-file", "--batch-all-objects", "--batch"], clone) for _ in range(args.runs)
            )
            audits = [audit_once(clone, report) for _ in range(args.runs)]
            wall = statistics.median(a[0] for a in audits)
            rss = max(a[2] for a in audits)
            tree = max(a[3] for a in audits)
            got, planted, missed, decoys, other = recall(report, truth)
            report.unlink()
            hook = hook_latency(clone, args.hook_runs) if n == args.hook_repo else None
            row = {
                "commits": truth["commits_total"],
                "catfile_s": round(catfile, 2),
                "audit_s": round(wall, 2),
                "ratio": round(wall / catfile, 2),
                "peak_rss_mb": round(rss / 1024, 1),
                "peak_tree_rss_mb": round(tree / 1024, 1),
                "recall": f"{got}/{planted}",
                "decoys_reported": len(decoys),
                "other_findings": other,
                "hook_median_ms": round(hook * 1000) if hook is not None else None,
                "exit": audits[0][1],
            }
            rows.append(row)
            print(json.dumps(row), flush=True)
            for m in missed:
                print(f"  missed: {m}", flush=True)
            for d in decoys:
                print(f"  decoy reported: {d}", flush=True)
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(
        f"cpus: {os.cpu_count()}, python {sys.version.split()[0]}, "
        f"{subprocess.run(['git', '--version'], capture_output=True, text=True).stdout.strip()}"
    )
    print(
        "| commits | cat-file s | audit s | ratio | peak RSS MB (largest process) | peak RSS MB (all processes) "
        "| recall | decoys | hook ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['commits']} | {r['catfile_s']} | {r['audit_s']} | {r['ratio']} | {r['peak_rss_mb']} | "
            f"{r['peak_tree_rss_mb']} | "
            f"{r['recall']} | {r['decoys_reported']} | {r['hook_median_ms'] or '-'} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
