"""Fail closed, network and cache: validation ends at its deadlines whatever the network does, and
the compiled-pattern cache can neither hang nor blind a run.

Every row plants fresh synthetic tokens ("pit-" + uuid4), asserts the exit code, that no planted
token reaches any output in full, and that every planted credential is still reported.
"""

from __future__ import annotations

import functools
import json
import os
import pathlib
import signal
import subprocess
import sys
import time
from typing import Any, Callable, Dict, Iterator, List, Optional

import pytest
from ghl_fake_server import ENV_V1, ENV_V2, StallServer
from git_helpers import new_pit

from pit_guard.cli import main

# --validate-total-timeout and --validate-timeout in the network rows: the smallest budget the
# option takes, and half of it per request (the deadline logic is the same at 1 s as at 120 s).
BUDGET = 1.0
REQUEST = 0.5
MARGIN = 6.0  # interpreter start-up, the scan itself and a loaded machine (the servers stall forever)


CLEARED = (ENV_V2, ENV_V1, "PIT_GUARD_CACHE_DIR", "XDG_CACHE_HOME", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy")
Run = Callable[..., "subprocess.CompletedProcess[str]"]


def run_pit_guard(
    args: List[str], env_extra: Dict[str, str], timeout: float = 30.0, cwd: Optional[pathlib.Path] = None
) -> "subprocess.CompletedProcess[str]":
    env = dict(os.environ)
    for name in CLEARED:
        env.pop(name, None)
    env.update({"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"})
    env.update(env_extra)
    return subprocess.run(
        [sys.executable, "-m", "pit_guard", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=cwd,
    )


def assert_no_secret(result: "subprocess.CompletedProcess[str]", tokens: List[str]) -> None:
    for token in tokens:
        assert token not in result.stdout and token not in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def warm_cache(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """A pattern cache filled by one clean run, so that timed runs do not compile the patterns."""
    folder = tmp_path_factory.mktemp("warm") / "cache"
    target = folder.parent / "clean.txt"
    target.write_text("nothing here\n")
    result = run_pit_guard(["scan", str(target)], {"PIT_GUARD_CACHE_DIR": str(folder)})
    assert result.returncode == 0, result.stderr
    return folder


# --- item 9: validation deadlines are wall-clock ----------------------------------------------------


@pytest.mark.parametrize("mode", StallServer.MODES)
def test_validation_ends_at_the_budget_whatever_the_server_does(
    tmp_path: pathlib.Path, warm_cache: pathlib.Path, mode: str
) -> None:
    # One request at a time: the first two use up their own 0.5 s deadline, the third the budget.
    tokens = [new_pit() for _ in range(3)]
    target = tmp_path / "settings.env"
    target.write_text("".join(f"TOKEN_{n}={token}\n" for n, token in enumerate(tokens)))
    with StallServer(mode) as server:
        env = {ENV_V2: server.base, ENV_V1: server.v1_base, "PIT_GUARD_CACHE_DIR": str(warm_cache)}
        args = ["scan", str(target), "--format", "json", "--validate", "--validate-concurrency", "1"]
        args += ["--validate-timeout", str(REQUEST), "--validate-total-timeout", str(BUDGET)]
        started = time.monotonic()
        result = run_pit_guard(args, env, timeout=BUDGET + MARGIN + 10)
        elapsed = time.monotonic() - started
        assert server.connections >= 1  # the requests did reach the stalling server
    assert elapsed < BUDGET + MARGIN, f"took {elapsed:.1f}s"
    assert result.returncode == 1, result.stderr
    assert_no_secret(result, tokens)
    report = json.loads(result.stdout)
    validations = [f["validation"] for f in report["findings"]]
    # Unknown is not dead: every token still fails the run.
    assert [v["status"] for v in validations] == ["unknown"] * 3
    reasons = " | ".join(v["reason"] for v in validations)
    assert f"timed out after {REQUEST:g}s" in reasons and "time budget exhausted" in reasons, reasons


# --- items 11 and 13: the compiled-pattern cache cannot hang, blind or misplace a run ---------------

try:
    import hyperscan  # type: ignore[import-untyped,unused-ignore]
except ImportError:  # without it there is no compiled cache at all
    hyperscan = None
needs_hyperscan = pytest.mark.skipif(hyperscan is None, reason="hyperscan is not installed")

# The fixed canary pit-guard used before the random one: a database made of its fixed parts passed.
OLD_CANARY = b"\n".join(
    (
        b"pit-3f2b9c4e-8a1d-4c6e-9b7a-1e2d3c4b5a69 PIT-3f2b9c4e-8a1d-4c6e-9b7a-1e2d3c4b5a69",
        b"eyJhbGciOiJIUzI1NiJ9.eyJ2ZXJzaW9uIjoxfQ.c2ln",
        b"https://services.leadconnectorhq.com/hooks/Qw3rTy7uI9oP1aS5dF8g/webhook-trigger/5c2d9e1f-7a4b-4c8d",
        b'client_secret="3f2b9c4e-8a1d-4c6e-9b7a-1e2d3c4b5a69"',
    )
)
CACHE_FAST = 20.0  # seconds: a scan of one small file, compiling the patterns on a loaded machine


def matched_ids(database: object, data: bytes) -> set:  # type: ignore[type-arg]
    ids: set = set()  # type: ignore[type-arg]
    database.scan(data, match_event_handler=lambda pattern_id, *_: ids.add(pattern_id))  # type: ignore[attr-defined]
    return ids


@functools.lru_cache(maxsize=None)
def weak_database(real: bytes) -> bytes:
    """A database with the same pattern ids as `real`, each matching only the old canary's fixed UUID
    (and the base64 anchors, which the old canary listed): blind to any real token."""
    loaded = hyperscan.loadb(real, hyperscan.HS_MODE_BLOCK)
    loaded.scratch = hyperscan.Scratch(loaded)
    from pit_guard.detection.patterns import B64
    from pit_guard.detection.prefilter import ANCHORS

    count = len(matched_ids(loaded, OLD_CANARY + b"\n" + b"\n".join(ANCHORS[B64])))
    weak = hyperscan.Database()
    expressions = [b"3f2b9c4e-8a1d-4c6e-9b7a-1e2d3c4b5a69|" + b"|".join(map(re_escape, ANCHORS[B64]))] * count
    weak.compile(expressions=expressions, ids=list(range(count)), elements=count, flags=[0] * count)
    assert matched_ids(weak, OLD_CANARY + b"\n" + b"\n".join(ANCHORS[B64])) == set(range(count))
    return hyperscan.dumpb(weak)  # type: ignore[no-any-return]


def re_escape(anchor: bytes) -> bytes:
    import re

    return re.escape(anchor)


def planted_tokens(tmp_path: pathlib.Path) -> "tuple[pathlib.Path, List[str]]":
    import base64

    tokens = [new_pit(), new_pit()]
    target = tmp_path / "secret.yaml"
    encoded = base64.b64encode(tokens[1].encode()).decode()
    target.write_text(f"GHL_TOKEN={tokens[0]}\nkind: Secret\ndata:\n  GHL_TOKEN: {encoded}\n")
    return target, tokens


class Deadline(BaseException):
    """Raised by the alarm: not an Exception, so that main()'s catch-all cannot swallow a hang."""


@pytest.fixture
def pit_guard(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], fresh_prefilter: Callable[[], None]
) -> Iterator[Run]:
    """pit_guard.cli.main() in this process, started as run_pit_guard starts a new process: the
    prefilter with nothing compiled or loaded (so the scan opens, checks, reads and writes the cache
    folder as a new process does), no once-per-process notice given yet, the same environment; all
    of it is put back after the test. A scan that blocks (a FIFO, /dev/zero) fails the test after
    60 s (the timeout run_pit_guard had) instead of hanging it."""
    fresh_prefilter()
    for name in CLEARED:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")

    def run(
        args: List[str], env_extra: Dict[str, str], cwd: Optional[pathlib.Path] = None
    ) -> "subprocess.CompletedProcess[str]":
        for name, value in env_extra.items():
            monkeypatch.setenv(name, value)
        if cwd is not None:
            monkeypatch.chdir(cwd)
        code = main(args)
        out = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out.out, out.err)

    def expire(signum: int, frame: Any) -> None:
        raise Deadline("the scan blocked")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, 60)
    try:
        yield run
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def scan_finds_everything(
    run: Run, tmp_path: pathlib.Path, env: Dict[str, str], cwd: Optional[pathlib.Path] = None
) -> "subprocess.CompletedProcess[str]":
    """A scan with this cache set-up ends fast, exit 1, with both planted tokens found, none shown."""
    target, tokens = planted_tokens(tmp_path)
    started = time.monotonic()
    result = run(["scan", str(target), "--format", "json"], env, cwd=cwd)
    elapsed = time.monotonic() - started
    assert elapsed < CACHE_FAST, f"took {elapsed:.1f}s"
    assert result.returncode == 1, result.stderr
    assert_no_secret(result, tokens)
    findings = json.loads(result.stdout)["findings"]
    assert [f["rule_id"] for f in findings] == ["ghl-private-integration-token"] * 2
    return result


@pytest.fixture(scope="module")
def good_cache(warm_cache: pathlib.Path) -> Dict[str, bytes]:
    """The cache files a clean run writes: name -> content."""
    files = {f.name: f.read_bytes() for f in warm_cache.glob("hyperscan-*.db")}
    # the prefilter, base64 anchor positions, context ends, generic-name ends, base64 line ends
    assert len(files) == 5
    return files


def plant_fifo(path: pathlib.Path, good: bytes) -> None:
    os.mkfifo(path)  # opening it for reading would wait for a writer forever


def plant_dev_zero(path: pathlib.Path, good: bytes) -> None:
    path.symlink_to("/dev/zero")  # reading it would never end, filling memory


def plant_huge(path: pathlib.Path, good: bytes) -> None:
    with open(path, "wb") as f:  # sparse: 4 GiB that cost no disk
        f.write(good)
        f.truncate(4 << 30)


def plant_weak(path: pathlib.Path, good: bytes) -> None:
    path.write_bytes(weak_database(good))


def plant_symlink_to_good(path: pathlib.Path, good: bytes) -> None:
    real = path.parent.parent / (path.name + ".elsewhere")
    real.write_bytes(good)
    path.symlink_to(real)


PLANTS = {
    "fifo": plant_fifo,
    "symlink-to-dev-zero": plant_dev_zero,
    "huge-sparse-file": plant_huge,
    "weak-database-passing-a-fixed-canary": plant_weak,
    "symlink-to-a-valid-database": plant_symlink_to_good,
}


@needs_hyperscan
@pytest.mark.parametrize("plant", PLANTS.values(), ids=list(PLANTS))
def test_a_planted_cache_file_neither_hangs_nor_blinds(
    pit_guard: Run, tmp_path: pathlib.Path, good_cache: Dict[str, bytes], plant: object
) -> None:
    folder = tmp_path / "cache"
    folder.mkdir(mode=0o700)
    for name, content in good_cache.items():
        plant(folder / name, content)  # type: ignore[operator]
    scan_finds_everything(pit_guard, tmp_path, {"PIT_GUARD_CACHE_DIR": str(folder)})
    for name in good_cache:  # each bad entry was replaced by a sound database of our own
        entry = folder / name
        assert entry.is_file() and not entry.is_symlink() and entry.stat().st_size < (1 << 20)
        loaded = hyperscan.loadb(entry.read_bytes(), hyperscan.HS_MODE_BLOCK)
        assert loaded is not None


def make_foreign(folder: pathlib.Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("changing a folder's owner needs root")
    os.chown(folder, 4242, 4242)


FOLDERS = {
    "owned-by-another-user": make_foreign,
    "world-writable": lambda folder: folder.chmod(0o777),
    "group-writable": lambda folder: folder.chmod(0o770),
}


@needs_hyperscan
@pytest.mark.parametrize("spoil", FOLDERS.values(), ids=list(FOLDERS))
def test_a_cache_folder_others_can_write_is_not_used(
    pit_guard: Run, tmp_path: pathlib.Path, good_cache: Dict[str, bytes], spoil: object
) -> None:
    folder = tmp_path / "cache"
    folder.mkdir(mode=0o700)
    for name, content in good_cache.items():
        (folder / name).write_bytes(weak_database(content))
    spoil(folder)  # type: ignore[operator]
    planted = sorted(p.name for p in folder.iterdir())
    result = scan_finds_everything(pit_guard, tmp_path, {"PIT_GUARD_CACHE_DIR": str(folder)})
    assert "compiled-pattern cache" in result.stderr and "not used" in result.stderr
    # Neither used nor written: the planted databases are still there, untouched (a loaded one
    # would have failed the random canary and been replaced).
    assert sorted(p.name for p in folder.iterdir()) == planted
    for name, content in good_cache.items():
        assert (folder / name).read_bytes() == weak_database(content)


@needs_hyperscan
def test_a_new_cache_folder_is_private(pit_guard: Run, tmp_path: pathlib.Path) -> None:
    folder = tmp_path / "fresh" / "cache"
    scan_finds_everything(pit_guard, tmp_path, {"PIT_GUARD_CACHE_DIR": str(folder)})
    assert folder.stat().st_mode & 0o777 == 0o700
    assert all(f.stat().st_mode & 0o077 == 0 for f in folder.iterdir())


@needs_hyperscan
def test_a_relative_xdg_cache_home_is_ignored(pit_guard: Run, tmp_path: pathlib.Path) -> None:
    repo, home = tmp_path / "repo", tmp_path / "home"
    repo.mkdir()
    home.mkdir()
    scan_finds_everything(pit_guard, tmp_path, {"XDG_CACHE_HOME": "rel-cache", "HOME": str(home)}, cwd=repo)
    assert list(repo.iterdir()) == []  # nothing written into the folder being scanned or committed
    assert list((home / ".cache" / "pit-guard").glob("hyperscan-*.db"))


@needs_hyperscan
def test_a_relative_pit_guard_cache_dir_is_refused_with_a_notice(pit_guard: Run, tmp_path: pathlib.Path) -> None:
    repo, home = tmp_path / "repo", tmp_path / "home"
    repo.mkdir()
    home.mkdir()
    result = scan_finds_everything(
        pit_guard, tmp_path, {"PIT_GUARD_CACHE_DIR": "rel-cache", "HOME": str(home)}, cwd=repo
    )
    assert "PIT_GUARD_CACHE_DIR must be an absolute path" in result.stderr
    assert list(repo.iterdir()) == [] and list(home.iterdir()) == []  # no cache anywhere
