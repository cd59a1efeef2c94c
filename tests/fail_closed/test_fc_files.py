"""Fail-closed matrix for `pit-guard scan PATH...` / `-` (files, folders, stdin; no git).

Each row asserts the exit code, that the input that could not be read is named, that every other
planted credential is still reported, and that no full planted token reaches any output."""

from __future__ import annotations

import builtins
import dataclasses
import inspect
import io
import json
import os
import pathlib
import resource
import signal
import socket
import stat
import subprocess
import sys
import tracemalloc
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

import peak_rss
import pytest
from git_helpers import new_pit

from pit_guard.cli import main
from pit_guard.detection import detect
from pit_guard.finding import redact
from pit_guard.sources import files

MARKER = b"PIT-GUARD-TEST-DETECTOR-BOOM"
MB = 1 << 20


class Deadline(BaseException):
    """Raised by the alarm: not an Exception, so that main()'s catch-all cannot swallow a hang."""


@pytest.fixture
def deadline() -> Iterator[None]:
    """A run that blocks (on a FIFO, on a device) fails the test after 20 s instead of hanging it."""

    def expire(signum: int, frame: Any) -> None:
        raise Deadline("the scan blocked")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, 20)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run(argv: List[str], capsys: pytest.CaptureFixture[str]) -> Tuple[int, Dict[str, Any], str]:
    """main() with a JSON report: (exit code, report, stdout + stderr)."""
    code = main(["scan", "--format", "json", *argv])
    out = capsys.readouterr()
    return code, json.loads(out.out), out.out + out.err


def check(
    code: int,
    report: Dict[str, Any],
    output: str,
    *,
    exit_code: int,
    found: List[str],
    hidden: List[str],
    not_scanned: Optional[str] = None,
    skipped: Optional[str] = None,
) -> None:
    """Exit code; every token of `found` reported; no full token of found + hidden in any output;
    `not_scanned` named as a failing skipped entry, `skipped` as a told-not-failing one."""
    assert code == exit_code, output
    secrets = [f["secret"] for f in report["findings"]]
    for token in found:
        assert redact(token) in secrets, output
    for token in found + hidden:
        assert token not in output
    assert "Traceback" not in output
    failing = [u["path"] for u in report["skipped"] if u["fails"]]
    told = [u["path"] for u in report["skipped"] if not u["fails"]]
    if not_scanned is None:
        assert failing == [], output
    else:
        assert any(p.endswith(not_scanned) for p in failing), output
        assert "not scanned" in output and "the scan is incomplete" in output
    if skipped is None:
        assert told == [], output
    else:
        assert any(p.endswith(skipped) for p in told), output


def plant(folder: pathlib.Path, *names: str) -> List[str]:
    """One fresh token per file."""
    folder.mkdir(parents=True, exist_ok=True)
    tokens = []
    for name in names:
        token = new_pit()
        (folder / name).write_text(f"GHL_TOKEN={token}\n")
        tokens.append(token)
    return tokens


def set_stdin(monkeypatch: pytest.MonkeyPatch, data: Optional[bytes]) -> None:
    monkeypatch.setattr(sys, "stdin", None if data is None else io.TextIOWrapper(io.BytesIO(data)))


# --- 1. A detector error in one input is that input's error ------------------------------------


@pytest.fixture
def exploding_detector(monkeypatch: pytest.MonkeyPatch) -> None:
    real = detect.scan_bytes

    def scan_bytes(data: bytes, *args: Any, **kwargs: Any) -> Any:
        if MARKER in data:
            raise RuntimeError(f"boom in {data[:200]!r}")  # the input's text must not leak through
        return real(data, *args, **kwargs)

    monkeypatch.setattr(detect, "scan_bytes", scan_bytes)


@pytest.mark.parametrize("where", ["folder", "stdin"])
def test_detector_error_in_one_input(
    where: str,
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    exploding_detector: None,
) -> None:
    good = plant(tmp_path / "tree", "a.env", "c.env")
    bad = new_pit()
    content = MARKER + f"\nGHL_TOKEN={bad}\n".encode()
    if where == "folder":
        (tmp_path / "tree" / "b.txt").write_bytes(content)
        argv, name = [str(tmp_path / "tree")], "b.txt"
    else:
        set_stdin(monkeypatch, content)
        argv, name = ["-", str(tmp_path / "tree")], "<stdin>"
    code, report, output = run(argv, capsys)
    check(code, report, output, exit_code=2, found=good, hidden=[bad], not_scanned=name)
    assert "detector error (RuntimeError)" in output and "boom" not in output


def test_detector_error_while_writing_a_baseline(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], exploding_detector: None
) -> None:
    plant(tmp_path / "tree", "a.env")
    (tmp_path / "tree" / "b.txt").write_bytes(MARKER + f"\nGHL_TOKEN={new_pit()}\n".encode())
    assert main(["baseline", str(tmp_path / "tree"), "--output", str(tmp_path / "b.json")]) == 2
    assert "b.txt: detector error" in capsys.readouterr().err
    assert len(json.loads((tmp_path / "b.json").read_text())["findings"]) == 1


# --- 2. Large inputs are streamed, not skipped ----------------------------------------------------


def chunk_size() -> int:
    """The detector's streaming chunk (its documented default)."""
    return int(inspect.signature(detect.scan_stream).parameters["chunk_size"].default)


def rss_bound() -> int:
    # A window holds the chunk plus ~8 MB of overlap on each side, copied a few times while it is
    # scanned; the interpreter with hyperscan loaded is ~40 MB. Measured: 155-225 MB whatever the size (binary data is also searched for UTF-16 strings).
    return 4 * chunk_size() + 192 * MB


def write_large(path: pathlib.Path, size: int) -> List[str]:
    """A sparse file of `size` bytes: 1000 filler lines, a token straddling the point where files.py
    starts streaming (line 1002), and one at the end (line 1004). Returns the two tokens."""
    tokens = [new_pit(), new_pit()]
    with open(path, "wb") as f:
        f.write(b"filler line\n" * 1000)
        f.seek(getattr(files, "STREAM_THRESHOLD", 32 * MB) - 20)
        f.write(f"\nGHL={tokens[0]}\n".encode())
        tail = f"\nGHL={tokens[1]}\n".encode()
        f.seek(size - len(tail))
        f.write(tail)
    assert path.stat().st_size == size
    return tokens


def run_measured(
    argv: List[str], stdin_path: Optional[pathlib.Path], tmp_path: pathlib.Path
) -> Tuple[int, str, str, int]:
    """Run pit-guard in a child process: (exit code, stdout, stderr, the child's own peak RSS)."""
    command = [sys.executable, "-m", "pit_guard", "scan", "--format", "json", *argv]
    code, out, err, _cpu, peak = peak_rss.run_measured(command, tmp_path, stdin=stdin_path)
    return code, out.decode(), err.decode(), peak


@pytest.mark.parametrize("source", ["file", "stdin"])
def test_large_input_is_streamed_in_bounded_memory(source: str, tmp_path: pathlib.Path) -> None:
    # The bound + 64 MB: a file read whole cannot pass the memory check, so this shows streaming.
    # (A 40 MB row was dropped: the same layout, checks and code paths as this one, with fewer
    # windows; window edges are checked at every offset by test_fc_detector's small windows.)
    size = rss_bound() + 64 * MB
    big = tmp_path / "big.bin"
    tokens = write_large(big, size)
    argv = [str(big)] if source == "file" else ["-"]
    code, out, err, peak = run_measured(argv, big if source == "stdin" else None, tmp_path)
    assert code == 1, err
    report, output = json.loads(out), out + err
    assert [(f["secret"], f["line"], f["column"]) for f in report["findings"]] == [
        (redact(tokens[0]), 1002, 5),
        (redact(tokens[1]), 1004, 5),
    ]
    assert not any(t in output for t in tokens)
    assert peak < rss_bound(), f"peak RSS {peak // MB} MB"


@pytest.mark.parametrize("source", ["file", "stdin"])
def test_scan_py_holds_at_most_its_head_while_streaming(
    source: str, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """sources/files.py's own share of the memory bound, whatever the detector does: with a detector that
    reads 3 MB at a time, scanning 40 MB allocates a few reads' worth (a file: its size says up front
    that it is streamed) or STREAM_THRESHOLD more (stdin: read up to there before it is known)."""
    seen: List[int] = []

    def scan_stream_or_error(read: Callable[[int], bytes], path: str = "") -> Any:
        findings, line = [], 0
        while True:
            part = read(3 * MB + 1)
            assert len(part) <= 3 * MB + 1
            if not part:
                return findings, None
            seen.append(len(part))
            planted = b"GHL=" in part  # only the parts holding a planted token need the (slow, traced) detector
            for f in detect.scan_bytes(part, path, keep_allowed=True) if planted else ():  # no token straddles a read
                findings.append(dataclasses.replace(f, line=f.line + line))
            line += part.count(b"\n")

    monkeypatch.setattr(detect, "scan_stream_or_error", scan_stream_or_error)
    big = tmp_path / "big.bin"
    size = files.STREAM_THRESHOLD + 8 * MB  # streamed, and several reads past the threshold
    tokens = write_large(big, size)
    if source == "stdin":
        set_stdin(monkeypatch, big.read_bytes())
    tracemalloc.start()
    try:
        code, report, output = run([str(big) if source == "file" else "-"], capsys)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    check(code, report, output, exit_code=1, found=tokens, hidden=[])
    assert sum(seen) == size and all(n == 3 * MB + 1 for n in seen[:-1])  # short only at the end
    allowed = 16 * MB + (files.STREAM_THRESHOLD if source == "stdin" else 0)
    assert peak < allowed, f"peak {peak // MB} MB"


@pytest.mark.parametrize("source", ["file", "stdin"])
@pytest.mark.parametrize("limit", ["1M", "36M"])  # 36M: found over the limit only while streaming stdin
def test_explicit_max_file_size_is_an_opt_in_skip(
    source: str, limit: str, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    big = tmp_path / "big" / "big.bin"
    big.parent.mkdir()
    tokens = write_large(big, 40 * MB)
    if source == "stdin":
        set_stdin(monkeypatch, big.read_bytes())
    code, report, output = run(["--max-file-size", limit, "-" if source == "stdin" else str(big.parent)], capsys)
    check(
        code,
        report,
        output,
        exit_code=0,
        found=[],
        hidden=tokens,
        skipped="<stdin>" if source == "stdin" else "big.bin",
    )
    assert "larger than --max-file-size" in output and report["findings"] == []


def test_config_max_file_size_is_an_opt_in_skip(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".pit-guard.toml").write_text('max-file-size = "1K"\n')
    small = plant(tmp_path, "small.env")
    (tmp_path / "big.env").write_text(f"GHL={new_pit()}\n" + "x" * 2000)
    code, report, output = run(["."], capsys)
    check(code, report, output, exit_code=1, found=small, hidden=[], skipped="big.env")


# --- 3. Unreadable things inside a scanned tree -------------------------------------------------


def replace_during_scan(monkeypatch: pytest.MonkeyPatch, change: Callable[[], None]) -> None:
    """Run `change` once, while the first file is being scanned: after the folder was listed and
    before the next file is opened (the race a live tree can produce)."""
    real = detect.scan_or_error
    done: List[bool] = []

    def scan_or_error(data: bytes, path: str = "") -> Any:
        if not done:
            done.append(True)
            change()
        return real(data, path)

    monkeypatch.setattr(detect, "scan_or_error", scan_or_error)


def test_permission_denied_file(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    good = plant(tmp_path, "a.env", "c.env")
    hidden = plant(tmp_path, "b.env")
    real_open, real_builtin_open = os.open, builtins.open

    def deny(path: Any) -> None:
        if isinstance(path, (str, os.PathLike)) and os.fspath(path).endswith("b.env"):
            raise PermissionError(13, "Permission denied", os.fspath(path))  # root reads a mode-000 file

    def os_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        deny(path)
        return real_open(path, flags, *args, **kwargs)

    def builtin_open(file: Any, *args: Any, **kwargs: Any) -> Any:
        deny(file)  # the same denial whichever way the file is opened
        return real_builtin_open(file, *args, **kwargs)

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(builtins, "open", builtin_open)
    code, report, output = run([str(tmp_path)], capsys)
    check(code, report, output, exit_code=2, found=good, hidden=hidden, not_scanned="b.env")
    assert "Permission denied" in output


@pytest.mark.parametrize("which", ["sub-folder", "named folder"])
def test_folder_that_cannot_be_listed(
    which: str, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    good = plant(tmp_path / "top", "a.env")
    hidden = plant(tmp_path / "top" / "locked", "b.env")
    locked = str(tmp_path / "top" / "locked")
    real_scandir = os.scandir

    def scandir(path: Any = ".") -> Any:
        if os.fspath(path) == locked:  # root lists a mode-000 folder: simulate the EACCES
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    argv = [str(tmp_path / "top")] if which == "sub-folder" else [locked, str(tmp_path / "top" / "a.env")]
    code, report, output = run(argv, capsys)
    check(code, report, output, exit_code=2, found=good, hidden=hidden, not_scanned="locked")
    assert "cannot list: Permission denied" in output


def test_file_that_vanishes_after_listing(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    good = plant(tmp_path, "a.env", "c.env")
    hidden = plant(tmp_path, "b.env")
    replace_during_scan(monkeypatch, lambda: (tmp_path / "b.env").unlink())
    code, report, output = run([str(tmp_path)], capsys)
    check(code, report, output, exit_code=2, found=good, hidden=hidden, not_scanned="b.env")
    assert "vanished" in output


@pytest.mark.parametrize("into", ["FIFO", "symlink"])
def test_file_that_turns_into_something_else_after_listing(
    into: str,
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    deadline: None,
) -> None:
    good = plant(tmp_path / "tree", "a.env", "c.env")
    hidden = plant(tmp_path / "tree", "b.env")
    elsewhere = plant(tmp_path, "elsewhere.env")
    b = tmp_path / "tree" / "b.env"

    def change() -> None:
        b.unlink()
        if into == "FIFO":
            os.mkfifo(b)  # no writer: a blocking open would wait forever
        else:
            b.symlink_to(tmp_path / "elsewhere.env")

    replace_during_scan(monkeypatch, change)
    code, report, output = run([str(tmp_path / "tree")], capsys)
    check(code, report, output, exit_code=2, found=good, hidden=hidden + elsewhere, not_scanned="b.env")
    assert f"changed into a {into}" in output or f"turned into a {into}" in output


def make_special(kind: str, path: pathlib.Path) -> None:
    if kind == "FIFO":
        os.mkfifo(path)
    elif kind == "socket":
        sock = socket.socket(socket.AF_UNIX)
        cwd = os.getcwd()
        os.chdir(path.parent)  # AF_UNIX paths are short: bind by relative name
        try:
            sock.bind(path.name)
        finally:
            os.chdir(cwd)
            sock.close()
    else:
        try:
            os.mknod(path, 0o600 | stat.S_IFCHR, os.makedev(1, 5))  # like /dev/zero
        except (PermissionError, OSError) as e:
            pytest.skip(f"cannot make a device node here: {e}")


@pytest.mark.parametrize("kind", ["FIFO", "socket", "character device"])
def test_special_file_inside_a_folder_is_told_not_failing(
    kind: str, tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str], deadline: None
) -> None:
    good = plant(tmp_path / "tree", "a.env", "c.env")
    make_special(kind, tmp_path / "tree" / "b.special")
    code, report, output = run([str(tmp_path / "tree")], capsys)
    check(code, report, output, exit_code=1, found=good, hidden=[], skipped="b.special")
    assert f"{kind}" in output and "holds no stored bytes" in output


def test_symlinks_inside_a_folder_are_not_followed(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = plant(tmp_path / "tree", "a.env")
    (tmp_path / "tree" / "link.env").symlink_to(tmp_path / "tree" / "a.env")  # its target is scanned where it lives
    (tmp_path / "tree" / "loop").symlink_to(tmp_path / "tree" / "loop")
    (tmp_path / "tree" / "dir-link").symlink_to(tmp_path / "tree")
    code, report, output = run([str(tmp_path / "tree")], capsys)
    check(code, report, output, exit_code=1, found=good, hidden=[])
    assert len(report["findings"]) == 1


def test_odd_file_names_are_scanned(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]) -> None:
    tokens = []
    for name in (b"new\nline.env", b"bad\xffutf8.env", b"tab\tand space.env", b"-dash.env"):
        token = new_pit()
        with open(os.path.join(os.fsencode(str(tmp_path)), name), "wb") as f:
            f.write(f"GHL={token}\n".encode())
        tokens.append(token)
    code, report, output = run([str(tmp_path)], capsys)
    check(code, report, output, exit_code=1, found=tokens, hidden=[])
    paths = sorted(os.path.basename(f["path"]) for f in report["findings"])
    assert paths == ["-dash.env", "bad\\xffutf8.env", "new\\x0aline.env", "tab\\x09and space.env"]


class FailingInput(io.RawIOBase):
    """Standard input that gives `good` bytes, then fails (EIO)."""

    def __init__(self, good: bytes) -> None:
        self.left = good

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self.left:
            raise OSError(5, "Input/output error")
        n = min(len(buffer), len(self.left))
        buffer[:n], self.left = self.left[:n], self.left[n:]
        return n


@pytest.mark.parametrize(
    "case", ["small file", "large file", "large file, detector catches", "stdin", "large stdin, detector catches"]
)
def test_read_error_is_that_inputs_error(
    case: str, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A read that fails part-way (EIO) is `cannot read`, not a detector error and not a short input,
    whether or not the streaming detector catches the exception itself."""
    good = plant(tmp_path / "ok", "a.env")
    bad = tmp_path / "bad.bin"
    hidden = write_large(bad, 40 * MB) if "large" in case else plant(tmp_path, "bad.bin")
    if "catches" in case:
        real = detect.scan_stream_or_error

        def catching(read: Callable[[int], bytes], path: str = "") -> Any:
            try:
                return real(read, path)
            except Exception as e:  # noqa: BLE001 - as a detector that turns any error into a message
                return [], f"detector error ({type(e).__name__})"

        monkeypatch.setattr(detect, "scan_stream_or_error", catching)
    if "stdin" in case:
        data = bad.read_bytes()
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BufferedReader(FailingInput(data[: len(data) - 100]))))
        argv, name = ["-", str(tmp_path / "ok")], "<stdin>"
    else:
        real_read, inode = os.read, bad.stat().st_ino
        fail_at = bad.stat().st_size // 2 if case == "small file" else bad.stat().st_size - 100

        def os_read(fd: int, n: int) -> bytes:
            if os.fstat(fd).st_ino != inode:
                return real_read(fd, n)
            at = os.lseek(fd, 0, os.SEEK_CUR)
            if at >= fail_at:
                raise OSError(5, "Input/output error")
            return real_read(fd, min(n, fail_at - at))

        monkeypatch.setattr(os, "read", os_read)
        argv, name = [str(bad), str(tmp_path / "ok")], "bad.bin"
    code, report, output = run(argv, capsys)
    check(code, report, output, exit_code=2, found=good, hidden=hidden, not_scanned=name)
    assert "cannot read: Input/output error" in output and "detector error" not in output


def test_folder_deeper_than_path_max_is_not_passed_over(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    good = plant(tmp_path / "tree", "a.env")
    monkeypatch.chdir(tmp_path / "tree")
    for _ in range(20):  # 20 x 250 characters: past PATH_MAX (4096), made one step at a time
        os.mkdir("d" * 250)
        os.chdir("d" * 250)
    hidden = plant(pathlib.Path("."), "deep.env")
    monkeypatch.chdir(tmp_path)
    code, report, output = run([str(tmp_path / "tree")], capsys)
    check(code, report, output, exit_code=2, found=good, hidden=hidden, not_scanned="d" * 250)
    assert "File name too long" in output


# --- 4. A path the user named that cannot be scanned -----------------------------------------


NAMED = ["symlink loop", "dangling symlink", "FIFO", "socket", "/dev/zero", "missing path", "closed stdin"]


@pytest.mark.parametrize("kind", NAMED)
def test_named_path_that_cannot_be_scanned(
    kind: str,
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    deadline: None,
) -> None:
    good = plant(tmp_path / "ok", "a.env")
    bad = tmp_path / "bad"
    if kind == "symlink loop":
        bad.symlink_to(bad)
    elif kind == "dangling symlink":
        bad.symlink_to(tmp_path / "nowhere")
    elif kind in ("FIFO", "socket"):
        make_special(kind, bad)
    elif kind == "/dev/zero":
        bad = pathlib.Path("/dev/zero")
    elif kind == "closed stdin":
        set_stdin(monkeypatch, None)
    name = "-" if kind == "closed stdin" else str(bad)
    code, report, output = run([name, str(tmp_path / "ok")], capsys)
    check(code, report, output, exit_code=2, found=good, hidden=[], not_scanned="<stdin>" if name == "-" else str(bad))


def test_stdin_from_a_device_is_refused(tmp_path: pathlib.Path) -> None:
    good = plant(tmp_path, "a.env")

    def limit_memory() -> None:  # were /dev/zero read, the child would stop at 2 GB, not the machine
        resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))

    with open("/dev/zero", "rb") as zero:
        proc = subprocess.run(
            [sys.executable, "-m", "pit_guard", "scan", "--format", "json", "-", str(tmp_path)],
            stdin=zero,
            capture_output=True,
            text=True,
            timeout=60,
            preexec_fn=limit_memory,
        )
    assert proc.returncode == 2, proc.stderr
    report = json.loads(proc.stdout)
    check(2, report, proc.stdout + proc.stderr, exit_code=2, found=good, hidden=[], not_scanned="<stdin>")
    assert "device" in proc.stderr


def test_stdin_from_dev_null_is_empty_and_clean(tmp_path: pathlib.Path) -> None:
    with open(os.devnull, "rb") as null:
        proc = subprocess.run([sys.executable, "-m", "pit_guard", "scan", "-"], stdin=null, capture_output=True)
    assert proc.returncode == 0, proc.stderr
