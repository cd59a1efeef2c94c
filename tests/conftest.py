"""Fixtures shared by the test modules."""

from __future__ import annotations

import io
import os
import pathlib
import sys
from typing import Any, Callable, Dict, Iterator, List, Optional, Union

import pytest
from forge_fake_server import FakeForge
from ghl_fake_server import ENV_V1, ENV_V2, FakeGHL
from git_helpers import git_env
from in_process import Ran, Runner
from loopback import started


@pytest.fixture(scope="session", autouse=True)
def pit_guard_bytecode() -> None:
    """pit_guard's modules compiled once, so that each `python -m pit_guard` a test spawns loads
    them instead of compiling ~40 modules from source (0.1-1 s of CPU per process) where
    PYTHONDONTWRITEBYTECODE is set, as in some sandboxes and CI images: the variable stops Python
    writing bytecode, not reading it (bench/bench_hook.py drops it for the same reason). Python's
    own check (the source's mtime and size) keeps the files correct; up-to-date ones are left alone,
    and each is written atomically (xdist workers may run this at the same time)."""
    import compileall

    compileall.compile_dir(str(pathlib.Path(__file__).resolve().parent.parent / "pit_guard"), quiet=2)


@pytest.fixture
def ghl(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGHL]:
    """A running FakeGHL with both PIT_GUARD_*_API_URL variables pointing at it."""
    server = FakeGHL().start()
    monkeypatch.setenv(ENV_V2, server.base)
    monkeypatch.setenv(ENV_V1, server.v1_base)
    # A developer's HTTP(S)_PROXY must not swallow loopback requests.
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    try:
        yield server
    finally:
        server.stop()


def _fleet_environment(monkeypatch: pytest.MonkeyPatch, cache: pathlib.Path) -> None:
    for name in ("CI", "GIT_DIR", "GIT_WORK_TREE", "GITHUB_TOKEN", "GITLAB_TOKEN", "GITHUB_API_URL", "CI_API_V4_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PIT_GUARD_CACHE_DIR", str(cache))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def fleet_env(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path) -> None:
    """A fleet audit's environment without the developer's or CI's: no forge tokens or API bases,
    no GIT_DIR from a hook, a cache folder of its own, loopback never proxied."""
    _fleet_environment(monkeypatch, tmp_path / "cache")


@pytest.fixture(scope="module")
def fleet_env_module(tmp_path_factory: pytest.TempPathFactory) -> Iterator[pathlib.Path]:
    """fleet_env for a module-scoped fixture (repositories and reports built once, then only read by
    the module's tests): the same environment while the module runs, undone after it; yields a fresh
    folder for the module's repositories. A test's own fleet_env still gives it a cache of its own."""
    root = tmp_path_factory.mktemp("fleet")
    with pytest.MonkeyPatch.context() as m:
        _fleet_environment(m, root / "cache")
        yield root


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Dict[str, Any]:
    """A fake clock for forge listings: sleeping advances it, nothing really waits."""
    from pit_guard.fleet import forges

    state: Dict[str, Any] = {"now": 1_700_000_000.0, "slept": []}

    def sleep(seconds: float) -> None:
        state["slept"].append(seconds)
        state["now"] += seconds

    monkeypatch.setattr(forges, "sleep", sleep)
    monkeypatch.setattr(forges, "now", lambda: state["now"])
    return state


@pytest.fixture
def forge() -> Iterator[FakeForge]:
    """A running loopback GitHub/GitLab API (tests/forge_fake_server.py)."""
    server = started(FakeForge())
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(params=["python", "hyperscan"])
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """Each detection test once per prefilter backend: both must find the same."""
    from pit_guard.detection import prefilter

    prefilter.use_backend(request.param)
    yield request.param
    prefilter.use_backend("auto")


@pytest.fixture
def fresh_prefilter(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """Call it to put this process's prefilter as a new process has it: nothing compiled or loaded
    (the next scan opens, checks, reads and writes the compiled-pattern cache as `python -m
    pit_guard` would) and no once-per-process notice given. The state before the test is put back
    after it, however many times it was called."""
    from pit_guard.detection import prefilter

    def reset() -> None:
        for name in ("_scanner", "_compiled", "_adaptive_left", "_positions_db", "_scan_with_line_ends"):
            monkeypatch.setattr(prefilter, name, None)
        for name in ("_context_db", "_generic_db", "_line_end_db"):
            monkeypatch.setattr(prefilter, name, None)
        monkeypatch.setattr(prefilter, "_notices", set())

    return reset


@pytest.fixture
def in_process(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Runner:
    """`pit_guard.cli.main(args)` in this process, as `python -m pit_guard ARGS` would run in `cwd` with
    `env` (default: git_helpers.git_env()) as its whole environment; stdout and stderr captured. For
    tests that read a command's output, not ones about the real process (signals, the console script):
    it saves the interpreter's start-up (~0.2 s CPU a call). The environment and working folder are
    restored after each call, whatever the command changed in os.environ. `stdin`: what the command
    reads on standard input (default: nothing, as with stdin=subprocess.DEVNULL)."""

    def run(
        *args: Union[str, os.PathLike],
        cwd: Union[str, os.PathLike],
        env: Optional[Dict[str, str]] = None,
        stdin: Union[str, bytes] = b"",
    ) -> Ran:
        from pit_guard import cli

        wanted = git_env() if env is None else env
        argv: List[str] = [os.fspath(a) for a in args]
        saved = dict(os.environ)
        with monkeypatch.context() as m:
            m.chdir(cwd)
            data = stdin.encode() if isinstance(stdin, str) else stdin
            m.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))
            for name in list(os.environ):
                if name not in wanted:
                    m.delenv(name)
            for name, value in wanted.items():
                m.setenv(name, value)
            capsys.readouterr()
            try:
                code = cli.main(argv)
            finally:
                out = capsys.readouterr()
                os.environ.clear()
                os.environ.update(saved)
        return Ran(code, out.out, out.err)

    return run
