"""The compiled hyperscan database is cached on disk (patterns only) and a bad cache is harmless."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

pytest.importorskip("hyperscan")

PROBE = (
    "from pit_guard import prefilter, detect\n"
    "print(prefilter.use_backend('auto'))\n"
    "print(len(detect.scan_bytes(b'GHL=pit-3f2b9c4e-8a1d-4c6e-9b7a-1e2d3c4b5a69\\n')))\n"
)


def run_probe(cache: pathlib.Path) -> str:
    env = dict(os.environ, PIT_GUARD_CACHE_DIR=str(cache))
    return subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True).stdout


def test_cache_is_written_reused_and_survives_corruption(tmp_path: pathlib.Path) -> None:
    cache = tmp_path / "cache"
    assert run_probe(cache).split() == ["hyperscan", "1"]
    files = sorted(cache.glob("hyperscan-*.db"))
    assert files, "no database was cached"
    for f in files:
        assert b"3f2b9c4e" not in f.read_bytes()  # patterns only, never scanned data
        f.write_bytes(b"garbage")
    assert run_probe(cache).split() == ["hyperscan", "1"]  # recompiled, same answers
    assert all(f.read_bytes() != b"garbage" for f in files)


def test_unwritable_cache_still_scans(tmp_path: pathlib.Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert run_probe(blocker / "cache").split() == ["hyperscan", "1"]


def test_a_planted_database_that_finds_nothing_is_thrown_away(tmp_path: pathlib.Path) -> None:
    import hyperscan

    cache = tmp_path / "cache"
    run_probe(cache)
    decoy = hyperscan.Database()
    decoy.compile(expressions=[b"never-in-any-file-zq"], ids=[0], elements=1)
    for f in cache.glob("hyperscan-*.db"):
        f.write_bytes(hyperscan.dumpb(decoy))  # valid, loadable, and blind
    assert run_probe(cache).split() == ["hyperscan", "1"]
