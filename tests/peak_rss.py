"""Run a command and read ITS peak memory, not its parent's.

Linux counts the memory a process had before exec in its peak RSS (ru_maxrss), and a child spawned
straight from a large parent (pytest after many tests, a benchmark holding its corpus) shows the
parent's peak. So the command is spawned from a small Python process that reports wait4's usage.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys
from typing import Dict, Optional, Sequence, Tuple

# argv: stdin path, stdout path, stderr path, then the command. Prints: exit code, CPU s, peak RSS KiB.
_SPAWNER = """
import os, sys
flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
actions = [(os.POSIX_SPAWN_OPEN, 0, sys.argv[1], os.O_RDONLY, 0),
           (os.POSIX_SPAWN_OPEN, 1, sys.argv[2], flags, 0o600), (os.POSIX_SPAWN_OPEN, 2, sys.argv[3], flags, 0o600)]
pid = os.posix_spawn(sys.argv[4], sys.argv[4:], dict(os.environ), file_actions=actions)
_, status, usage = os.wait4(pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime, usage.ru_maxrss)
"""


def run_measured(
    argv: Sequence[str],
    folder: pathlib.Path,
    stdin: Optional[pathlib.Path] = None,
    env: Optional[Dict[str, str]] = None,
    cwd: Optional[pathlib.Path] = None,
    timeout: float = 300,
) -> Tuple[int, bytes, bytes, float, int]:
    """(exit code, stdout, stderr, CPU seconds, peak RSS in bytes) of `argv` (argv[0] a path)."""
    out, err = folder / "measured.out", folder / "measured.err"
    spawner = [sys.executable, "-c", _SPAWNER, str(stdin or os.devnull), str(out), str(err)]
    proc = subprocess.run(
        [*spawner, *argv], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, check=True
    )
    code, cpu, peak_kib = proc.stdout.split()
    return int(code), out.read_bytes(), err.read_bytes(), float(cpu), int(peak_kib) * 1024
