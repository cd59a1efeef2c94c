"""Fail-closed rows for archives: bombs (42.zip-style nesting, one huge entry of zeros) finish fast in
bounded memory; a default limit hit fails the run naming the archive and the entry; a limit the
user set is told, not failing; encrypted and broken entries are not scanned and say so; every other
planted credential is still reported; no full token reaches any output. Bombs are built here, on
the fly, in milliseconds (repeated deflate blocks), never committed."""

from __future__ import annotations

import io
import json
import struct
import sys
import tarfile
import zipfile
import zlib
from pathlib import Path
from typing import Any, Dict, List, Tuple

import peak_rss
import pytest
from git_helpers import Repo, git_env, new_pit
from in_process import Runner

from pit_guard.cli import main
from pit_guard.detection import detect

MB = 1 << 20
BOOM = b"PIT-GUARD-TEST-ARCHIVE-BOOM"


def zip_bytes(entries: Dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def deflated_zeros(prefix: bytes, megabytes: int) -> bytes:
    """A raw deflate stream of `prefix` then `megabytes` MB of zeros, made in milliseconds: after a
    full flush each MB of zeros compresses to the same bytes, so one block is repeated."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    start = c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(bytes(MB)) + c.flush(zlib.Z_FULL_FLUSH)
    again = c.compress(bytes(MB)) + c.flush(zlib.Z_FULL_FLUSH)
    assert block == again
    return start + block * megabytes + c.flush()


def gzip_zeros(prefix: bytes, megabytes: int) -> bytes:
    """A gzip member holding `prefix` + `megabytes` MB of zeros (CRC left wrong: nothing reads to the end)."""
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    size = (len(prefix) + megabytes * MB) & 0xFFFFFFFF
    return header + deflated_zeros(prefix, megabytes) + struct.pack("<II", 0, size)


def tar_header(name: str, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = size
    return info.tobuf(format=tarfile.GNU_FORMAT)  # base-256 sizes: any size


def run(args: List[str], capsys: pytest.CaptureFixture[str]) -> Tuple[int, Dict[str, Any], str]:
    code = main([*args, "--format", "json", "--no-config"])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def nested_bomb(levels: int, copies: int, leaf: bytes) -> bytes:
    """42.zip's shape: each level holds `copies` copies of the level below."""
    data = leaf
    for level in range(levels):
        data = zip_bytes({f"l{level}-{i}.zip": data for i in range(copies)})
    return data


def measured(args: List[str], cwd: Path) -> Tuple[int, bytes, bytes, float]:
    """(exit code, stdout, stderr, peak RSS in MB) of `pit-guard ARGS`: its own peak (tests/peak_rss.py)."""
    command = [sys.executable, "-m", "pit_guard", *args, "--no-config"]
    code, out, err, _cpu, peak = peak_rss.run_measured(command, cwd, env=git_env(), cwd=cwd, timeout=120)
    return code, out, err, peak / (1 << 20)


def test_42_zip_style_nesting_stops_at_the_default_depth_and_fails_the_run(tmp_path: Path):
    token = new_pit()
    leaf = zip_bytes({f"zeros{i}.bin": bytes(4 * MB) for i in range(16)})  # 64 MB a leaf, 16**5 leaves
    (tmp_path / "42.zip").write_bytes(
        zip_bytes({"readme.env": f"K={token}\n".encode(), "x.zip": nested_bomb(4, 16, leaf)})
    )
    code, out, err, peak = measured(["scan", "42.zip", "--format", "json"], tmp_path)
    assert code == 2, err
    data = json.loads(out)
    assert [f["path"] for f in data["findings"]] == ["42.zip!readme.env"]  # still reported
    [unread] = [u for u in data["skipped"] if "--max-archive-depth" in u["reason"]]
    assert unread["fails"] and unread["path"].startswith("42.zip!x.zip!l3-0.zip!l2-0.zip")
    assert "more entries like it" in unread["reason"]
    assert b"--max-archive-depth 3, the default" in err and b"exit 2" in err
    assert token.encode() not in out + err
    assert peak < 400, peak


def test_42_zip_style_nesting_opened_all_the_way_still_stops(tmp_path: Path):
    """The user lifts the depth: the ratio of each 4 MB zero entry (the default limit: exit 2) and
    the entry count (set by the user here, to keep the test short) stop it."""
    leaf = zip_bytes({f"zeros{i}.bin": bytes(4 * MB) for i in range(16)})
    (tmp_path / "42.zip").write_bytes(nested_bomb(5, 16, leaf))
    args = ["scan", "42.zip", "--format", "json", "--max-archive-depth", "50", "--max-archive-entries", "5000"]
    code, out, err, peak = measured(args, tmp_path)
    assert code == 2, err
    skipped = json.loads(out)["skipped"]
    assert [u["fails"] for u in skipped if "--max-archive-ratio 100, the default" in u["reason"]] == [True]
    assert [u["fails"] for u in skipped if "--max-archive-entries 5000)" in u["reason"]] == [False]
    assert peak < 400, peak


def test_one_10_gb_entry_of_zeros_is_stopped_by_its_ratio(tmp_path: Path, capsys):
    token = new_pit()
    bomb = gzip_zeros(tar_header("zeros.bin", 10 * 1024 * MB), 10 * 1024)  # 10 GB of zeros in ~10 MB
    (tmp_path / "bomb.tar.gz").write_bytes(bomb)
    (tmp_path / "fine.env").write_text(f"K={token}\n")
    code, data, err = run(["scan", str(tmp_path)], capsys)
    assert code == 2
    assert [f["path"] for f in data["findings"]] == [f"{tmp_path}/fine.env"]
    [unread] = data["skipped"]
    assert unread["path"] == f"{tmp_path}/bomb.tar.gz" and unread["fails"]
    assert "expands more than 100 times" in unread["reason"] and "--max-archive-ratio" in unread["reason"]
    assert token not in json.dumps(data) + err


def test_a_user_set_byte_limit_is_told_not_failing(tmp_path: Path, capsys):
    bomb = gzip_zeros(tar_header("zeros.bin", 10 * 1024 * MB), 10 * 1024)
    (tmp_path / "bomb.tar.gz").write_bytes(bomb)
    args = ["scan", str(tmp_path / "bomb.tar.gz"), "--max-archive-ratio", "100000000", "--max-archive-bytes", "16M"]
    code, data, err = run(args, capsys)
    assert code == 0
    [unread] = data["skipped"]
    assert unread["path"] == f"{tmp_path}/bomb.tar.gz!zeros.bin" and not unread["fails"]
    assert "more than 16777216 uncompressed bytes" in unread["reason"]
    assert "skipped" in err and "exit 2" not in err


def test_a_zip_entry_whose_declared_ratio_is_a_bomb_is_never_inflated(tmp_path: Path, capsys):
    token = new_pit()
    (tmp_path / "a.zip").write_bytes(zip_bytes({"zeros.bin": bytes(8 * MB), "b/.env": f"K={token}\n".encode()}))
    code, data, _ = run(["scan", str(tmp_path / "a.zip")], capsys)
    assert code == 2
    assert [f["path"] for f in data["findings"]] == [f"{tmp_path}/a.zip!b/.env"]
    assert [u["path"] for u in data["skipped"]] == [f"{tmp_path}/a.zip!zeros.bin"]
    code, data, _ = run(["scan", str(tmp_path / "a.zip"), "--max-archive-ratio", "100000"], capsys)
    assert code == 1 and data["skipped"] == []


def test_a_user_set_depth_is_told_not_failing(tmp_path: Path, capsys):
    token, deeper = new_pit(), new_pit()
    inner = zip_bytes({"deep.env": f"K={deeper}\n".encode()}, zipfile.ZIP_DEFLATED)
    (tmp_path / "a.zip").write_bytes(zip_bytes({"top.env": f"K={token}\n".encode(), "in.zip": inner}))
    code, data, err = run(["scan", str(tmp_path / "a.zip"), "--max-archive-depth", "1"], capsys)
    assert code == 1
    assert [f["path"] for f in data["findings"]] == [f"{tmp_path}/a.zip!top.env"]
    [unread] = data["skipped"]
    assert unread["path"] == f"{tmp_path}/a.zip!in.zip" and not unread["fails"]
    assert token not in err and deeper not in err


def test_entry_count_limit(tmp_path: Path, capsys):
    (tmp_path / "many.zip").write_bytes(zip_bytes({f"f{i}.txt": b"x" for i in range(20)}))
    code, data, _ = run(["scan", str(tmp_path / "many.zip"), "--max-archive-entries", "5"], capsys)
    assert code == 0
    [unread] = data["skipped"]
    assert "--max-archive-entries 5" in unread["reason"] and not unread["fails"]
    nested = zip_bytes({"a.zip": zip_bytes({f"f{i}.txt": b"x" for i in range(4)}), "b.txt": b"y", "c.txt": b"z"})
    (tmp_path / "nested.zip").write_bytes(nested)
    code, data, _ = run(["scan", str(tmp_path / "nested.zip"), "--max-archive-entries", "5"], capsys)
    assert code == 0 and "more than 5 entries" in data["skipped"][0]["reason"]  # counted across levels


def encrypted(data: bytes) -> bytes:
    """`data` (a zip) with every entry marked encrypted, as a password-protected zip has them."""
    out = bytearray(data)
    for signature, flag_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = out.find(signature)
        while at != -1:
            out[at + flag_at] |= 0x1
            at = out.find(signature, at + 4)
    return bytes(out)


def test_an_encrypted_entry_is_not_scanned_and_fails_the_run(tmp_path: Path, capsys):
    token = new_pit()
    locked = encrypted(zip_bytes({"secret.env": b"cipher text"}))
    (tmp_path / "a.zip").write_bytes(zip_bytes({"locked.zip": locked, "open.env": f"K={token}\n".encode()}))
    code, data, err = run(["scan", str(tmp_path / "a.zip")], capsys)
    assert code == 2
    assert [f["path"] for f in data["findings"]] == [f"{tmp_path}/a.zip!open.env"]
    [unread] = data["skipped"]
    assert unread["path"] == f"{tmp_path}/a.zip!locked.zip!secret.env" and "encrypted" in unread["reason"]
    assert "exit 2" in err


def test_a_broken_archive_is_not_scanned_and_says_so(tmp_path: Path, capsys):
    token = new_pit()
    whole = zip_bytes({"a.env": f"K={new_pit()}\n".encode()})
    (tmp_path / "cut.zip").write_bytes(whole[: len(whole) // 2])
    (tmp_path / "cut.tgz").write_bytes(gzip_zeros(b"", 1)[:200])
    (tmp_path / "ok.env").write_text(f"K={token}\n")
    code, data, _ = run(["scan", str(tmp_path)], capsys)
    assert code == 2
    assert [f["path"] for f in data["findings"]] == [f"{tmp_path}/ok.env"]
    reasons = {u["path"]: u["reason"] for u in data["skipped"]}
    assert set(reasons) == {f"{tmp_path}/cut.zip", f"{tmp_path}/cut.tgz"}
    assert all(u["fails"] for u in data["skipped"])


def test_a_detector_error_in_one_entry_is_that_entrys_error(tmp_path: Path, capsys, monkeypatch):
    real = detect.scan_bytes

    def boom(data: bytes, *args: Any, **kwargs: Any) -> Any:
        if BOOM in data:
            raise RuntimeError("boom " + data.decode("utf-8", "replace"))
        return real(data, *args, **kwargs)

    monkeypatch.setattr(detect, "scan_bytes", boom)
    token, hidden = new_pit(), new_pit()
    entries = {"bad.txt": BOOM + f" {hidden}".encode(), "good.env": f"K={token}\n".encode()}
    (tmp_path / "a.zip").write_bytes(zip_bytes(entries))
    code, data, err = run(["scan", str(tmp_path / "a.zip")], capsys)
    assert code == 2
    assert [f["path"] for f in data["findings"]] == [f"{tmp_path}/a.zip!good.env"]
    assert data["skipped"] == [
        {
            "path": f"{tmp_path}/a.zip!bad.txt",
            "reason": "detector error (RuntimeError); please report it",
            "fails": True,
        }
    ]
    assert hidden not in json.dumps(data) + err


def test_a_limit_hit_in_history_names_the_blob_the_commit_and_the_entry(tmp_path: Path, in_process: Runner):
    """In-process: an 8 MB entry (a ratio bomb that is not stopped is only 8 MB to inflate)."""
    repo = Repo(tmp_path / "r")
    repo.write("bundle.zip", zip_bytes({"zeros.bin": bytes(8 * MB), "k.env": f"K={new_pit()}\n".encode()}))
    commit = repo.commit("add")
    audit = in_process("audit", "--format", "json", "--no-config", cwd=repo.path)
    assert audit.returncode == 2, audit.stderr
    data = json.loads(audit.stdout)
    assert [f["path"] for f in data["findings"]] == ["bundle.zip!k.env"]
    [unread] = data["skipped"]
    assert unread["path"].startswith("<object ") and unread["path"].endswith(
        f"bundle.zip in commit {commit[:12]}!zeros.bin"
    )
    hook = in_process("scan", "--range", f"{commit}", "--format", "json", "--no-config", cwd=repo.path)
    assert hook.returncode == 2
    assert [u["path"] for u in json.loads(hook.stdout)["skipped"]] == ["bundle.zip!zeros.bin"]
