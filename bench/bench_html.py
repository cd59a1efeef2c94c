#!/usr/bin/env python3
"""HTML report benchmark: its size, and how long headless Chromium takes to open it, on the
20k-commit synthetic repository from bench/gen_synth_repo.py (goal: under 2 MB, opens under 1 s).

    .venv/bin/python bench/bench_html.py [--commits 20000] [--repo EXISTING.git] [--runs 3]

Writes `audit --format html` and `--format json` of the repository (CPU time of each), then opens
the HTML report and, side by side as the floor, a blank page in `chromium --headless --dump-dom`:
Chromium's start-up is most of it, so the report's own cost is the difference. The page's own
load time (performance.timing, load event end minus navigation start) is read from a copy of the
report with one line added that writes it into the DOM. CPU times are of the child processes
(resource.getrusage), wall times are printed too (on a shared machine they are the noisy ones).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Tuple

ROOT = Path(__file__).resolve().parent.parent
GENERATOR = ROOT / "bench" / "gen_synth_repo.py"
ENV = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, LC_ALL="C")
ENV.pop("CI", None)
PROBE = (
    "<script>window.addEventListener('load',function(){setTimeout(function(){var t=performance.timing;"
    "document.body.setAttribute('data-load-ms',String(t.loadEventEnd-t.navigationStart));},0);});</script>"
)


def timed(args: List[str], **kw: object) -> Tuple[subprocess.CompletedProcess, float, float]:  # type: ignore[type-arg]
    """(result, child CPU seconds, wall seconds)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, **kw)  # type: ignore[call-overload]
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return proc, cpu, wall


def chromium(browser: str, url: str, profile: str) -> Tuple[str, float, float]:
    args = [browser, "--headless", "--disable-gpu", f"--user-data-dir={profile}", "--no-first-run"]
    args += ["--disable-background-networking", "--virtual-time-budget=5000", "--dump-dom", url]
    if os.geteuid() == 0:
        args.insert(1, "--no-sandbox")
    proc, cpu, wall = timed(args, text=True, timeout=300)
    return proc.stdout, cpu, wall


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commits", type=int, default=20000)
    parser.add_argument("--repo", help="an existing repository (e.g. one gen_synth_repo.py built) instead")
    parser.add_argument("--runs", type=int, default=3, help="Chromium opens of each page")
    parser.add_argument("--workdir", help="where to build (default: a temp folder, removed after)")
    parser.add_argument(
        "--synthetic",
        type=int,
        metavar="N",
        help="instead of a repository: N synthetic credentials, each in 25 places and 40 branches (a stress case)",
    )
    args = parser.parse_args()
    names = ("chromium", "chromium-browser", "google-chrome")
    browser = next((shutil.which(n) for n in names if shutil.which(n)), None)
    work = Path(args.workdir or tempfile.mkdtemp(prefix="pit-guard-bench-html-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        repo = Path(args.repo) if args.repo else work / "synth.git"
        if args.synthetic:
            html = synthetic(args.synthetic)
        elif not args.repo:
            subprocess.run(
                [sys.executable, str(GENERATOR), str(repo), "--ground-truth", str(work / "truth.json")],
                check=True,
                env=ENV,
            )
        if not args.synthetic:
            html = audited(repo, work)
        if browser is None:
            print("no Chromium installed: load time not measured")
            return 0
        load_times(browser, html, work, args.runs)
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def synthetic(n: int) -> str:
    import uuid

    from pit_guard.finding import Finding, Provenance, Validation
    from pit_guard.reporting.html import format_html

    findings = []
    statuses = ("live", "dead", "unknown", "not-checked")
    branches = tuple(f"feature/branch-{i}" for i in range(40))
    for i in range(n):
        secret = "pit-" + str(uuid.uuid4())
        for place in range(25):
            commit = uuid.uuid4().hex + "0" * 8
            provenance = Provenance(commit, "Ada <ada@example.com>", "2024-01-01", 500, True, branches)
            findings.append(
                Finding(
                    "ghl-private-integration-token",
                    secret,
                    f"src/module_{i}/file_{place}.py",
                    place + 1,
                    9,
                    provenance=provenance,
                    validation=Validation(statuses[i % 4], "synthetic"),
                )
            )
    start = time.process_time()
    html = format_html(findings, [])
    print(
        f"{n} synthetic credentials in {len(findings)} places: HTML {len(html.encode()) / 1e6:.3f} MB, "
        f"written in {time.process_time() - start:.2f} s CPU"
    )
    return html


def audited(repo: Path, work: Path) -> str:
    """`audit --format json` and `--format html` of the repository (CPU and wall of each)."""
    out = {}
    for fmt in ("json", "html"):
        target = work / f"report.{fmt}"
        proc, cpu, wall = timed(
            [sys.executable, "-m", "pit_guard", "audit", str(repo), "--format", fmt, "-o", str(target)], env=ENV
        )
        assert proc.returncode in (0, 1), proc.stderr.decode()[-500:]
        out[fmt] = target
        print(f"audit --format {fmt}: {target.stat().st_size / 1e6:.2f} MB, CPU {cpu:.1f} s, wall {wall:.1f} s")
    findings = json.loads(out["json"].read_text())["findings"]
    credentials = len({f["fingerprint"] for f in findings})
    html = out["html"].read_text(encoding="utf-8")
    print(f"{len(findings)} findings, {credentials} credentials; HTML {len(html.encode()) / 1e6:.3f} MB")
    return html


def load_times(browser: str, html: str, work: Path, runs: int) -> None:
    """The report and a blank page (the floor) opened side by side, `runs` times each."""
    probed = work / "probed.html"
    probed.write_text(html.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    blank = work / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body>" + PROBE + "</body></html>")
    rows = {}
    for name, page in (("blank page (floor)", blank), ("HTML report", probed)):
        cpus, walls, loads = [], [], []
        for i in range(runs):
            dom, cpu, wall = chromium(browser, page.as_uri(), str(work / f"profile-{name[:5]}-{i}"))
            found = re.search(r'data-load-ms="(\d+)"', dom)
            loads.append(int(found.group(1)) if found else -1)
            cpus.append(cpu)
            walls.append(wall)
        rows[name] = (statistics.median(cpus), statistics.median(walls), statistics.median(loads))
    head = f"{'chromium --headless --dump-dom':34} {'CPU s':>7} {'wall s':>7} {'page load ms':>13}"
    print(f"{head}  (median of {runs})")
    for name, (cpu, wall, load) in rows.items():
        print(f"{name:34} {cpu:7.2f} {wall:7.2f} {load:13.0f}")
    (bc, bw, _), (rc, rw, rl) = rows["blank page (floor)"], rows["HTML report"]
    print(f"report minus floor: CPU {rc - bc:+.2f} s, wall {rw - bw:+.2f} s; page load {rl:.0f} ms")


if __name__ == "__main__":
    sys.exit(main())
