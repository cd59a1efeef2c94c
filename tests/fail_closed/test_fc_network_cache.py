"""Fail closed, network and cache: validation ends at its deadlines whatever the network does, and
the compiled-pattern cache can neither hang nor blind a run.

Every row plants fresh synthetic tokens ("pit-" + uuid4), asserts the exit code, that no planted
token reaches any output in full, and that every planted credential is still reported.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import time
from typing import Dict, List, Optional

import pytest
from ghl_fake_server import ENV_V1, ENV_V2, StallServer
from git_helpers import new_pit

BUDGET = 2.0  # --validate-total-timeout in the network rows
MARGIN = 3.0  # interpreter start-up, the scan itself and a loaded machine


def run_pit_guard(
    args: List[str], env_extra: Dict[str, str], timeout: float = 30.0, cwd: Optional[pathlib.Path] = None
) -> "subprocess.CompletedProcess[str]":
    env = dict(os.environ)
    for name in (ENV_V2, ENV_V1, "PIT_GUARD_CACHE_DIR", "XDG_CACHE_HOME", "HTTP_PROXY", "HTTPS_PROXY", "http_proxy"):
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


# --- item 9: validation deadlines are wall-clock ----------------------------------------------------


@pytest.mark.parametrize("mode", StallServer.MODES)
def test_validation_ends_at_the_budget_whatever_the_server_does(tmp_path: pathlib.Path, mode: str) -> None:
    # One request at a time: the first two use up their own 1 s deadline, the third the budget.
    tokens = [new_pit() for _ in range(3)]
    target = tmp_path / "settings.env"
    target.write_text("".join(f"TOKEN_{n}={token}\n" for n, token in enumerate(tokens)))
    with StallServer(mode) as server:
        env = {ENV_V2: server.base, ENV_V1: server.v1_base, "PIT_GUARD_CACHE_DIR": str(tmp_path / "cache")}
        args = ["scan", str(target), "--format", "json", "--validate", "--validate-concurrency", "1"]
        args += ["--validate-timeout", "1", "--validate-total-timeout", str(BUDGET)]
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
    assert "timed out after 1s" in reasons and "time budget exhausted" in reasons, reasons
