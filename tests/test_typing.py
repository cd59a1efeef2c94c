"""The package type-checks under `mypy --strict` (configured in pyproject.toml)."""

import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent


def test_package_is_strictly_typed() -> None:
    proc = subprocess.run([sys.executable, "-m", "mypy", "pit_guard"], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
