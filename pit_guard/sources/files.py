"""Scan files, folders and stdin (no git): read bytes, detect, collect what was not read.

What each input means (fail closed: whatever could hold a credential and was not read is an Unread,
exit 2, unless the user chose the limit that left it out):

- A regular file is read whole, or streamed through the detector in bounded memory when it is larger
  than STREAM_THRESHOLD. --max-file-size (or the config's max-file-size) is an opt-in skip: told,
  not failing.
- A folder is walked in sorted order, skipping folders named `.git`. A symlink inside it is not
  followed (its target is scanned where it lives, when that is inside what was named). A FIFO,
  socket or device inside it holds no stored bytes: told, not failing. A file or sub-folder in it
  that cannot be listed or read (permission denied, vanished, changed into something else between
  listing and reading) fails the run.
- A path named on the command line is followed when it is a symlink. One that is missing, a broken or
  looping symlink, a FIFO, a socket or a device is not read and fails the run: nothing is ever opened
  in a way that can block (O_NONBLOCK, checked with fstat) or read forever.
- `-` is standard input. Closed, unreadable or a device (other than a terminal or /dev/null) fails
  the run.
"""

from __future__ import annotations

import collections
import errno
import functools
import os
import stat
from typing import TYPE_CHECKING, BinaryIO, Callable, Iterator, List, Optional, Sequence

from pit_guard.archives.limits import HEAD, ZIP_END, Limits, kind
from pit_guard.detection import detect
from pit_guard.finding import NO_SIZE_LIMIT, Finding, Unread
from pit_guard.sources.result import SourceResult

if TYPE_CHECKING:
    from pit_guard.archives.read import Outcome

STDIN_PATH = "<stdin>"

# Inputs up to this size are read whole and scanned at once; larger ones are streamed in chunks.
STREAM_THRESHOLD = 32 << 20
# How much of an input of unknown size (stdin, a file that grew) is read at a time before streaming.
_PART = 1 << 20

# Never block on open (a FIFO that turned up where a file was listed), never take a terminal.
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_NOCTTY", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)
_NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)


def scan_paths(
    paths: Sequence[str],
    *,
    max_file_size: int = NO_SIZE_LIMIT,
    stdin: BinaryIO | None = None,
    archives: Optional[Limits] = None,
) -> SourceResult:
    """Every file under `paths` (`-`: `stdin`); one input that cannot be read never stops the others.
    An archive (told by its first bytes) is read entry by entry within `archives` limits; a folder
    holding an OCI image layout is read as an image."""
    result = SourceResult()
    limits = Limits() if archives is None else archives
    for path in paths or ["."]:
        if path == "-":
            _scan_stdin(result, stdin, max_file_size, limits)
            continue
        try:
            mode = os.stat(path).st_mode  # named: a symlink is followed
        except OSError as e:
            result.skipped.append(Unread(path, _named_error(path, e)))
            continue
        if stat.S_ISDIR(mode) and _is_image_folder(path, limits):
            from pit_guard.archives.images import FolderStore, scan_image

            _add_outcome(result, scan_image(FolderStore(path), path, limits))
        elif stat.S_ISDIR(mode):
            for file in _walk(path, result.skipped):
                _scan_file(result, file, max_file_size, limits, follow=False)
        elif stat.S_ISREG(mode):
            _scan_file(result, path, max_file_size, limits, follow=True)
        else:
            hint = "give what it carries on stdin: `- < PATH`" if stat.S_ISFIFO(mode) else "name a file or folder"
            result.skipped.append(Unread(path, f"{_kind(mode)}: not read ({hint})"))
    return result


def _named_error(path: str, error: OSError) -> str:
    if error.errno in (errno.ENOENT, errno.ELOOP) and os.path.islink(path):
        return "a broken or looping symlink"
    if error.errno == errno.ENOENT:
        return "no such file or directory (check the path you gave)"
    return f"cannot read: {error.strerror or error}"


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISLNK(mode):
        return "a symlink"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a regular file"


def _walk(root: str, skipped: List[Unread]) -> Iterator[str]:
    """Regular files under `root`: sorted, each folder's files before its sub-folders, `.git` left out.

    Lazy: a folder is listed when it is reached, so its files are opened after the listing (the
    reader checks what it opened). A symlink is not followed; a FIFO, socket or device is told,
    not failing; what cannot be listed fails the run."""
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda e: e.name)
        except OSError as e:
            skipped.append(Unread(folder, f"cannot list: {e.strerror or e}"))
            continue
        folders = []
        for entry in entries:
            try:
                if entry.is_symlink():
                    continue
                if entry.is_dir(follow_symlinks=False):
                    if entry.name != ".git":
                        folders.append(entry.path)
                elif entry.is_file(follow_symlinks=False):
                    yield entry.path
                else:
                    kind = _kind(entry.stat(follow_symlinks=False).st_mode)
                    skipped.append(Unread(entry.path, f"{kind} inside a folder holds no stored bytes: not read", True))
            except OSError as e:
                skipped.append(Unread(entry.path, _open_error(e, follow=False)))
        stack.extend(reversed(folders))


def _open_error(error: OSError, follow: bool) -> str:
    if error.errno == errno.ENOENT:
        return "vanished before it could be read"
    if error.errno == errno.ELOOP and not follow:
        return "turned into a symlink before it could be read (not followed)"
    if error.errno == errno.ENXIO:
        return "turned into a socket before it could be read"
    return f"cannot read: {error.strerror or error}"


def _is_image_folder(path: str, limits: Limits) -> bool:
    from pit_guard.archives.images import is_layout_folder

    return limits.depth > 0 and is_layout_folder(path)


def _add_outcome(result: SourceResult, outcome: "Outcome") -> None:
    result.findings += outcome.findings
    result.skipped += outcome.skipped
    result.scanned += 1


def _scan_archive_file(result: SourceResult, path: str, fd: int, archive: str, limits: Limits) -> None:
    """A file on disk that is an archive: read through its own handle (seekable), never extracted."""
    from pit_guard.archives.inputs import scan_source

    with os.fdopen(os.dup(fd), "rb") as f:
        _add_outcome(result, scan_source(archive, f, path, limits))


def _head(fd: int) -> bytes:
    """The file's first HEAD bytes, its offset left at the start."""
    head = os.read(fd, HEAD)
    while len(head) < HEAD:
        more = os.read(fd, HEAD - len(head))
        if not more:
            break
        head += more
    os.lseek(fd, 0, os.SEEK_SET)
    return head


def _scan_file(result: SourceResult, path: str, max_file_size: int, limits: Limits, follow: bool) -> None:
    """One file found as a regular file: opened without blocking, checked to still be one, then read.

    (O_NONBLOCK changes nothing for a regular file: reads wait for the disk as usual.)"""
    try:
        fd = os.open(path, _OPEN_FLAGS | (0 if follow else _NO_FOLLOW))
    except OSError as e:
        result.skipped.append(Unread(path, _open_error(e, follow)))
        return
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            result.skipped.append(Unread(path, f"turned into {_kind(info.st_mode)} before it could be read"))
        elif info.st_size > max_file_size:
            reason = f"larger than --max-file-size ({info.st_size} > {max_file_size} bytes)"
            result.skipped.append(Unread(path, reason, chosen=True))
        else:
            archive = kind(_head(fd))
            if archive is not None:
                _scan_archive_file(result, path, fd, archive, limits)
            else:
                _scan_input(result, path, functools.partial(os.read, fd), max_file_size, info.st_size)
                _scan_appended_zip(result, path, fd, info.st_size, limits)
    except OSError as e:
        result.skipped.append(Unread(path, f"cannot read: {e.strerror or e}"))
    finally:
        os.close(fd)


def _scan_appended_zip(result: SourceResult, path: str, fd: int, size: int, limits: Limits) -> None:
    """A zip after other bytes (self-extracting, appended to a script or a picture): scanned as it is
    above, where its deflated entries hide what they hold; its entries are read too."""
    if size < 22 or limits.depth < 1:
        return
    start = max(0, size - ZIP_END)
    os.lseek(fd, start, os.SEEK_SET)
    tail = os.read(fd, size - start)
    if b"PK\x05\x06" not in tail:  # one memchr-like search of the last 64 KB: what almost every file costs
        return
    import zipfile

    from pit_guard.archives.inputs import scan_source

    with os.fdopen(os.dup(fd), "rb") as f:
        if not zipfile.is_zipfile(f):  # bytes that only look like a zip's end
            return
        f.seek(0)
        outcome = scan_source("zip", f, path, limits)
    result.findings += outcome.findings
    result.skipped += outcome.skipped


def _scan_stdin(result: SourceResult, stdin: Optional[BinaryIO], max_file_size: int, limits: Limits) -> None:
    if stdin is None:
        result.skipped.append(Unread(STDIN_PATH, "`-` given but there is no standard input (it is closed)"))
        return
    refused = _stdin_device(stdin)
    if refused:
        result.skipped.append(Unread(STDIN_PATH, refused))
        return
    reading = _filled(stdin.read)
    try:
        head = reading(HEAD)
    except _ReadError as e:
        result.skipped.append(Unread(STDIN_PATH, f"cannot read: {getattr(e.error, 'strerror', None) or e.error}"))
        return
    archive = kind(head)
    if archive is None:
        parts = [head]

        def rest(n: int) -> Optional[bytes]:
            return parts.pop() if parts else stdin.read(n)

        _scan_input(result, STDIN_PATH, rest, max_file_size, None)
        return
    from pit_guard.archives.read import scan_archive, seekable_stream

    try:
        with seekable_stream(head, reading, archive) as source:
            _add_outcome(result, scan_archive(archive, source, STDIN_PATH, limits))
    except _ReadError as e:
        result.skipped.append(Unread(STDIN_PATH, f"cannot read: {getattr(e.error, 'strerror', None) or e.error}"))


def _stdin_device(stdin: BinaryIO) -> Optional[str]:
    """Why standard input is not read: a device such as /dev/zero never ends (a terminal and
    /dev/null do)."""
    try:
        fd = stdin.fileno()
        info = os.fstat(fd)
        if not stat.S_ISCHR(info.st_mode) or os.isatty(fd) or info.st_rdev == os.stat(os.devnull).st_rdev:
            return None
    except (OSError, ValueError):  # not a file descriptor (tests, wrappers), or closed: reading tells
        return None
    return "standard input is a character device: not read (it may never end)"


class _ReadError(Exception):
    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error


def _filled(read: Callable[[int], Optional[bytes]]) -> Callable[[int], bytes]:
    """`read` made to return `n` bytes unless the input ends (so a short read means the end), with
    its failures told apart from a detector error (and a non-blocking input with nothing ready made
    a failure, not an end)."""

    def reading(n: int) -> bytes:
        parts: List[bytes] = []
        got = 0
        while got < n:
            try:
                data = read(n - got)
            except (OSError, ValueError) as e:  # ValueError: read from a closed file
                raise _ReadError(e) from None
            except MemoryError:
                raise _ReadError(MemoryError("out of memory while reading it")) from None
            if data is None:
                raise _ReadError(BlockingIOError(errno.EAGAIN, "non-blocking input with no data ready"))
            if not data:
                break
            parts.append(data)
            got += len(data)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    return reading


def _scan_input(
    result: SourceResult, path: str, read: Callable[[int], Optional[bytes]], max_file_size: int, size: Optional[int]
) -> None:
    """An input up to STREAM_THRESHOLD bytes is read and scanned whole; a larger one is streamed
    through the detector (`size`, when known, says which up front; else the first bytes read are
    streamed first, then the rest). Never reads more than --max-file-size + 1 bytes."""
    reading = _filled(read)
    want = min(STREAM_THRESHOLD, max_file_size) + 1
    stream: Optional[_Stream] = None
    try:
        head: List[bytes] = []
        if size is None or size <= STREAM_THRESHOLD:
            head = _read_head(reading, want, size)
            if sum(len(part) for part in head) < want:  # the whole input
                _add(result, path, *detect.scan_or_error(b"".join(head), path))
                return
        if want <= max_file_size:
            stream = _Stream(head, reading, max_file_size)
            del head
            findings, error = detect.scan_stream_or_error(stream.read, path)
            if stream.failure is not None:  # raised inside the detector, which may have caught it
                raise stream.failure
    except _ReadError as e:
        result.skipped.append(Unread(path, f"cannot read: {getattr(e.error, 'strerror', None) or e.error}"))
        return
    if stream is None or stream.over:
        result.skipped.append(Unread(path, f"larger than --max-file-size ({max_file_size} bytes)", chosen=True))
        return
    _add(result, path, findings, error)


def _read_head(reading: Callable[[int], bytes], want: int, size: Optional[int]) -> List[bytes]:
    """Up to `want` bytes, in parts: a file of known size in one read, else _PART at a time (so that
    a streamed head is let go part by part). Short only at the end of the input."""
    parts: List[bytes] = []
    got, step = 0, _PART if size is None else size + 1
    while got < want:
        ask = min(step, want - got)
        part = reading(ask)
        if part:
            parts.append(part)
            got += len(part)
        if len(part) < ask:  # the end
            break
        step = _PART
    return parts


class _Stream:
    """What the streaming detector reads: the parts already read, then the rest of the input. Past
    `limit` bytes in all it ends early and says so (`over`); a read failure is kept (`failure`)."""

    def __init__(self, head: List[bytes], read: Callable[[int], bytes], limit: int) -> None:
        self._head = collections.deque(head)
        self._at = 0  # how much of the first part was read
        self._read = read
        self._limit = limit
        self._total = sum(len(part) for part in head)
        self.over = False
        self.failure: Optional[_ReadError] = None

    def read(self, n: int) -> bytes:
        """Up to `n` bytes, short only at the end (also where the head gives way to the rest)."""
        pieces: List[bytes] = []
        need = n
        while need > 0 and self._head:
            first = self._head[0]
            if self._at == 0 and len(first) <= need:
                piece = self._head.popleft()
            else:
                piece = memoryview(first)[self._at : self._at + need].tobytes()
                self._at += len(piece)
                if self._at == len(first):
                    self._head.popleft()
                    self._at = 0
            pieces.append(piece)
            need -= len(piece)
        if need > 0:
            pieces.append(self._more(need))
        return pieces[0] if len(pieces) == 1 else b"".join(pieces)

    def _more(self, n: int) -> bytes:
        if self.over or self.failure is not None:
            return b""
        try:
            data = self._read(n)
        except _ReadError as e:
            self.failure = e
            raise
        self._total += len(data)
        if self._total > self._limit:
            self.over = True
            return b""
        return data


def _add(result: SourceResult, path: str, findings: List[Finding], error: Optional[str]) -> None:
    result.findings.extend(findings)
    if error is None:
        result.scanned += 1
    else:
        result.skipped.append(Unread(path, error))
