"""`pit_guard.cli.main` in the test's own process, read like a finished `python -m pit_guard` (the
`in_process` fixture in conftest.py builds a `Runner`)."""

from __future__ import annotations

from typing import Callable


class Ran:
    """What `subprocess.run(..., capture_output=True, text=True)` gave the tests: exit code, stdout, stderr."""

    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode = returncode
        self.stdout = stdout
        self.stderr = stderr


Runner = Callable[..., Ran]
