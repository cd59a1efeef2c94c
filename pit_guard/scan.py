"""Scan files, folders and stdin (no git): read bytes, detect, collect what was skipped."""

from __future__ import annotations

import dataclasses
import os
from typing import BinaryIO, Iterator, List, Optional, Sequence

from pit_guard.errors import FatalError
from pit_guard.finding import NO_SIZE_LIMIT, Finding, Unread

STDIN_PATH = "<stdin>"


@dataclasses.dataclass
class ScanResult:
    findings: List[Finding] = dataclasses.field(default_factory=list)
    skipped: List[Unread] = dataclasses.field(default_factory=list)
    scanned: int = 0


def _walk(root: str, skipped: List[Unread]) -> Iterator[str]:
    """Files under `root`, sorted, skipping `.git`; a symlink inside is not followed (its target
    is scanned where it lives); a folder that cannot be listed is reported, not passed over."""

    def unreadable(error: OSError) -> None:
        skipped.append(Unread(error.filename or root, f"cannot list: {error.strerror or error}"))

    for folder, dirs, files in os.walk(root, onerror=unreadable):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        for name in sorted(files):
            path = os.path.join(folder, name)
            if not os.path.islink(path):
                yield path


def _targets(paths: Sequence[str], skipped: List[Unread]) -> Iterator[str]:
    for path in paths:
        if path == "-":
            yield path
        elif os.path.isdir(path):
            yield from _walk(path, skipped)
        elif os.path.lexists(path):
            yield path  # named on the command line: a symlink is followed
        else:
            raise FatalError(f"{path}: no such file or directory (check the path you gave to `pit-guard scan`)")


def scan_paths(
    paths: Sequence[str], *, max_file_size: int = NO_SIZE_LIMIT, stdin: BinaryIO | None = None
) -> ScanResult:
    from pit_guard.detect import scan_or_error

    result = ScanResult()
    for path in _targets(paths or ["."], result.skipped):
        if path == "-":
            if stdin is None:
                raise FatalError("`-` given but there is no standard input")
            data = stdin.read() if max_file_size >= NO_SIZE_LIMIT else stdin.read(max_file_size + 1)
            if len(data) > max_file_size:
                result.skipped.append(
                    Unread(STDIN_PATH, f"larger than --max-file-size ({max_file_size} bytes)", chosen=True)
                )
                continue
            _add(result, STDIN_PATH, *scan_or_error(data, STDIN_PATH))
            continue
        if not os.path.isfile(path):  # follows a symlink named on the command line
            what = "a broken or looping symlink" if os.path.islink(path) else "not a regular file"
            result.skipped.append(Unread(path, what))
            continue
        try:
            size = os.path.getsize(path)
            if size > max_file_size:
                result.skipped.append(
                    Unread(path, f"larger than --max-file-size ({size} > {max_file_size} bytes)", chosen=True)
                )
                continue
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            result.skipped.append(Unread(path, f"cannot read: {e.strerror or e}"))
            continue
        _add(result, path, *scan_or_error(data, path))
    return result


def _add(result: ScanResult, path: str, findings: List[Finding], error: Optional[str]) -> None:
    result.findings.extend(findings)
    if error is None:
        result.scanned += 1
    else:
        result.skipped.append(Unread(path, error))
