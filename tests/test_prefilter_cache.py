"""The compiled hyperscan database is cached on disk (patterns only) and a bad cache is harmless."""

from __future__ import annotations

import pathlib
from typing import Callable

import pytest

pytest.importorskip("hyperscan")

PROBE = b"GHL=pit-3f2b9c4e-8a1d-4c6e-9b7a-1e2d3c4b5a69\n"


@pytest.fixture
def run_probe(monkeypatch: pytest.MonkeyPatch, fresh_prefilter: Callable[[], None]) -> Callable[[pathlib.Path], str]:
    """The backend a new process starts with, and how many findings it has in PROBE, with `cache`
    as its cache folder. In this process, with the prefilter as a new process has it (conftest's
    fresh_prefilter): the folder is opened, read, checked and written the same way, without an
    interpreter to start and pit_guard to import each time."""
    from pit_guard.detection import detect, prefilter

    def run(cache: pathlib.Path) -> str:
        fresh_prefilter()
        monkeypatch.setenv("PIT_GUARD_CACHE_DIR", str(cache))
        return f"{prefilter.use_backend('auto')}\n{len(detect.scan_bytes(PROBE))}\n"

    return run


def test_cache_is_written_reused_and_survives_corruption(
    tmp_path: pathlib.Path, run_probe: Callable[[pathlib.Path], str]
) -> None:
    cache = tmp_path / "cache"
    assert run_probe(cache).split() == ["hyperscan", "1"]
    files = sorted(cache.glob("hyperscan-*.db"))
    assert files, "no database was cached"
    for f in files:
        assert b"3f2b9c4e" not in f.read_bytes()  # patterns only, never scanned data
        f.write_bytes(b"garbage")
    assert run_probe(cache).split() == ["hyperscan", "1"]  # recompiled, same answers
    assert all(f.read_bytes() != b"garbage" for f in files)


def test_unwritable_cache_still_scans(tmp_path: pathlib.Path, run_probe: Callable[[pathlib.Path], str]) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    assert run_probe(blocker / "cache").split() == ["hyperscan", "1"]


def test_a_planted_database_that_finds_nothing_is_thrown_away(
    tmp_path: pathlib.Path, run_probe: Callable[[pathlib.Path], str]
) -> None:
    import hyperscan

    cache = tmp_path / "cache"
    run_probe(cache)
    decoy = hyperscan.Database()
    decoy.compile(expressions=[b"never-in-any-file-zq"], ids=[0], elements=1)
    for f in cache.glob("hyperscan-*.db"):
        f.write_bytes(hyperscan.dumpb(decoy))  # valid, loadable, and blind
    assert run_probe(cache).split() == ["hyperscan", "1"]


def test_the_random_canary_covers_every_pattern_and_always_matches_it() -> None:
    """A fresh database must pass its own canary on every draw, or a scan would fail at random."""
    import random
    import re

    import hyperscan

    from pit_guard.detection import patterns as shapes
    from pit_guard.detection import prefilter

    samples = prefilter._base64_samples()
    assert set(samples) == set(prefilter.ANCHORS[shapes.B64])
    patterns = [(shapes.SHAPES[f], prefilter._SHAPE_SAMPLES[f]) for f in shapes.SHAPES]
    patterns += [(re.escape(anchor), samples[anchor]) for anchor in prefilter.ANCHORS[shapes.B64]]
    database = hyperscan.Database()
    database.compile(
        expressions=[p for p, _ in patterns],
        ids=list(range(len(patterns))),
        elements=len(patterns),
        flags=[0] * len(patterns),
    )
    for seed in range(200):
        assert prefilter._passes_canary(database, [s for _, s in patterns], random.Random(seed)), seed
    # Unpredictable: two draws of the same pattern (from unknown seeds) differ.
    pit = prefilter._SHAPE_SAMPLES[shapes.PIT]
    assert len({pit(random.Random()) for _ in range(20)}) == 20


def test_a_database_that_only_knows_one_fixed_token_fails_the_canary() -> None:
    import random

    import hyperscan

    from pit_guard.detection import prefilter

    blind = hyperscan.Database()
    blind.compile(expressions=[b"pit-3f2b9c4e-8a1d-4c6e-9b7a-1e2d3c4b5a69"], ids=[0], elements=1)
    assert not prefilter._passes_canary(blind, [prefilter._sample_pit], random.Random())
