"""Review of archive and image reading (issue 12) as a hostile archive author: a token in a place the
reader skipped, or a small file made to cost a great deal of work. Every fixture is built here with
the standard library, tokens made fresh per test."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
from git_helpers import Repo, git_env, new_pit

from pit_guard import cli


def tar_member(name: str, data: bytes, type_: bytes = tarfile.REGTYPE) -> bytes:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.type = type_
    header = info.tobuf(tarfile.GNU_FORMAT)
    return header + data + b"\0" * (-len(data) % 512)


def tar_end() -> bytes:
    return b"\0" * 1024


def scan(path: Path, capsys: pytest.CaptureFixture[str]) -> Tuple[int, Dict[str, Any], str]:
    code = cli.main(["scan", str(path), "--format", "json", "--no-config"])
    out, err = capsys.readouterr()
    return code, json.loads(out), out + err


def places(data: Dict[str, Any]) -> List[str]:
    return sorted(f["path"] for f in data["findings"])


def unread(data: Dict[str, Any]) -> List[str]:
    return [f"{s['path']}: {s['reason']}" for s in data["skipped"]]


def test_a_tar_entry_after_a_broken_header_is_still_read_and_the_broken_header_fails_the_run(tmp_path, capsys):
    # tarfile ends a tar at the first header that is none, silently: every later entry went unread, exit 0.
    token = new_pit()
    broken = bytearray(tar_member("b.txt", b"hello"))
    broken[148:156] = b"0000000\0"  # a wrong checksum
    path = tmp_path / "bundle.tar"
    path.write_bytes(
        tar_member("a.txt", b"hi") + bytes(broken) + tar_member("c.env", f"K={token}".encode()) + tar_end()
    )
    code, data, text = scan(path, capsys)
    assert places(data) == [f"{path}!c.env"]
    assert code == 2 and any(s.startswith(f"{path}: ") and "no valid header" in s for s in unread(data))
    assert token not in text


def test_a_tar_after_the_end_of_a_tar_is_read(tmp_path, capsys):
    # `cat a.tar b.tar`: the bytes were scanned as text before archives were opened; then missed.
    token = new_pit()
    path = tmp_path / "two.tar"
    path.write_bytes(tar_member("a.txt", b"hi") + tar_end() + tar_member("b.env", f"K={token}".encode()) + tar_end())
    code, data, text = scan(path, capsys)
    assert (code, places(data), data["skipped"]) == (1, [f"{path}!b.env"], [])
    assert token not in text


def test_a_tar_member_of_a_type_tarfile_does_not_know_is_read_as_a_file(tmp_path, capsys):
    # GNU tar extracts an unknown type as a regular file; the reader skipped every non-regular member.
    token = new_pit()
    path = tmp_path / "odd.tar"
    path.write_bytes(tar_member("odd.env", f"K={token}".encode(), b"Z") + tar_end())
    code, data, _ = scan(path, capsys)
    assert (code, places(data)) == (1, [f"{path}!odd.env"])


def test_a_hardlink_member_carrying_bytes_is_not_a_clean_scan(tmp_path, capsys):
    # tarfile reads a link's bytes as the next header: what they hold is not read, so the run fails.
    token = new_pit()
    path = tmp_path / "link.tar"
    path.write_bytes(tar_member("lnk", f"K={token}\n".encode() * 20, tarfile.LNKTYPE) + tar_end())
    code, data, text = scan(path, capsys)
    assert code == 2 and any("no valid header" in s for s in unread(data))
    assert token not in text


def test_a_token_in_a_zip_comment_is_found(tmp_path, capsys):
    token = new_pit()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("readme.txt", b"hello")
        archive.comment = f"GHL_API_KEY={token}".encode()
    path = tmp_path / "export.zip"
    path.write_bytes(buffer.getvalue())
    code, data, text = scan(path, capsys)
    assert (code, places(data)) == (1, [f"{path}!(zip comment)"])
    assert token not in text


def test_a_zip_folder_entry_holding_bytes_is_read(tmp_path, capsys):
    token = new_pit()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("config/", f"K={token}".encode())
    path = tmp_path / "folder.zip"
    path.write_bytes(buffer.getvalue())
    code, data, _ = scan(path, capsys)
    assert (code, places(data)) == (1, [f"{path}!config/"])


def test_a_sparse_tar_member_is_judged_by_the_ratio_limit(tmp_path, capsys):
    # 10 stored bytes claiming 200 MB of holes: a 10 KB tar made pit-guard read and scan 200 MB of
    # zeros (1 GB, the byte budget, with a larger claim: 7 s of CPU a file), the ratio limit unchecked.
    info = tarfile.TarInfo("holes.bin")
    info.pax_headers = {
        "GNU.sparse.major": "1",
        "GNU.sparse.minor": "0",
        "GNU.sparse.name": "holes.bin",
        "GNU.sparse.realsize": str(200 << 20),
    }
    sparse_map = f"1\n{(200 << 20) - 10}\n10\n".encode()
    data = sparse_map + b"\0" * (512 - len(sparse_map)) + b"0123456789"
    info.size = len(data)
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        archive.addfile(info, io.BytesIO(data))
    path = tmp_path / "sparse.tar"
    path.write_bytes(buffer.getvalue())
    code, data_, _ = scan(path, capsys)
    assert code == 2 and unread(data_) == [
        f"{path}!holes.bin: expands more than 100 times (a decompression bomb?): not read "
        "(--max-archive-ratio 100, the default: raise it to scan this)"
    ]


def test_an_image_layer_listed_under_several_spellings_is_read_once(tmp_path, capsys):
    # A manifest listing one layer as x/layer.tar, ./x/layer.tar, ././x/layer.tar, ... made one read
    # (and one finding) per spelling: a 10 MB image listing it 200 times cost 200 reads.
    token = new_pit()
    layer = tar_member("app/.env", f"K={token}".encode()) + tar_end()
    config = json.dumps({"config": {"Env": ["A=1"]}, "history": []}).encode()
    manifest = json.dumps([{"Config": "cfg.json", "Layers": ["./" * i + "abc/layer.tar" for i in range(3)]}])
    path = tmp_path / "image.tar"
    path.write_bytes(
        tar_member("manifest.json", manifest.encode())
        + tar_member("cfg.json", config)
        + tar_member("abc/layer.tar", layer)
        + tar_end()
    )
    code, data, _ = scan(path, capsys)
    assert (code, places(data)) == (1, [f"{path}!layer abc/app/.env"])


def test_a_huge_extended_header_is_refused_not_read_whole(tmp_path, capsys):
    # tarfile reads a pax or long-name header whole, however large it claims to be: a 22 MB .tar.gz
    # claiming 600 MB made a peak of 1.25 GB (a plain tar: its whole size in memory). Here 2 MB.
    token = new_pit()
    long_name = tar_member("././@LongLink", b"n" * (2 << 20), tarfile.GNUTYPE_LONGNAME)
    path = tmp_path / "long.tar"
    path.write_bytes(tar_member("a.env", f"K={token}".encode()) + long_name + tar_member("b", b"x") + tar_end())
    code, data, text = scan(path, capsys)
    assert places(data) == [f"{path}!a.env"]
    assert code == 2 and any("extended header" in s for s in unread(data))
    assert token not in text


def test_an_image_manifest_that_is_no_json_leaves_no_file_unread(tmp_path, capsys):
    # It made the whole tarball one "not scanned" line: every layer (and a source tarball with a broken
    # manifest.json) went unread.
    token = new_pit()
    layer = tar_member("app/.env", f"K={token}".encode()) + tar_end()
    manifest = b'[{"Config": "c.json", "Layers": ["x/layer.tar"]}, // not JSON'
    path = tmp_path / "image.tar"
    path.write_bytes(tar_member("manifest.json", manifest) + tar_member("x/layer.tar", layer) + tar_end())
    code, data, _ = scan(path, capsys)
    assert (code, places(data), data["skipped"]) == (1, [f"{path}!x/layer.tar!app/.env"], [])


def test_an_image_config_that_is_no_json_is_scanned_as_it_is(tmp_path, capsys):
    token = new_pit()
    layer = tar_member("app/readme", b"hello") + tar_end()
    manifest = json.dumps([{"Config": "c.json", "Layers": ["x/layer.tar"]}]).encode()
    config = f"ENV GHL_API_KEY={token} (not JSON)".encode()
    path = tmp_path / "image.tar"
    path.write_bytes(
        tar_member("manifest.json", manifest)
        + tar_member("c.json", config)
        + tar_member("x/layer.tar", layer)
        + tar_end()
    )
    code, data, text = scan(path, capsys)
    assert (code, places(data)) == (1, [f"{path}!c.json"])
    assert token not in text


def test_a_zip_without_its_central_directory_still_has_its_stored_bytes_scanned(tmp_path, capsys):
    # A truncated download: zipfile cannot open it, and its stored `.env` (found by a plain scan before
    # archives were opened) went unreported; the run fails either way.
    token = new_pit()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("a.env", f"K={token}\n")
        archive.writestr("b.txt", "x" * 5000)
    path = tmp_path / "cut.zip"
    path.write_bytes(buffer.getvalue()[:3000])
    code, data, text = scan(path, capsys)
    assert (code, places(data)) == (2, [str(path)])
    assert unread(data) == [f"{path}: a broken zip archive: BadZipFile: File is not a zip file"]
    assert token not in text


def test_a_zip_after_other_bytes_is_read(tmp_path, capsys):
    # A self-extracting archive (a script or an .exe stub, then a zip): its first bytes are no zip's, so
    # it was scanned as text, where a deflated entry hides its token: 0 findings, exit 0.
    token = new_pit()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("app/.env", f"GHL_API_KEY={token}\n" * 3)
    path = tmp_path / "install.sh"
    path.write_bytes(b'#!/bin/sh\nunzip -o "$0"; exit 0\n' + buffer.getvalue())
    look_alike = tmp_path / "notes.txt"  # ends like a zip, is none: read as text only, not failing
    look_alike.write_bytes(b"some text PK\x05\x06 and more\n")
    code, data, text = scan(tmp_path, capsys)
    assert (code, sorted(set(places(data))), data["skipped"]) == (1, [f"{path}!app/.env"], [])
    assert token not in text


def test_a_file_named_with_a_bang_is_no_archive_to_the_config_excludes(tmp_path, capsys, monkeypatch):
    # `exclude = ["fixtures/"]` is meant for `bundle.zip!fixtures/...`; it also dropped the plain file
    # `src/creds!fixtures` and the folder `src/prod!fixtures/` (the `!` taken as an archive's end).
    token, fake = new_pit(), new_pit()
    (tmp_path / ".pit-guard.toml").write_text('exclude = ["fixtures/"]\n')
    (tmp_path / "src" / "prod!fixtures").mkdir(parents=True)
    (tmp_path / "src" / "creds!fixtures").write_text(f"K={token}\n")
    (tmp_path / "src" / "prod!fixtures" / "x.env").write_text(f"K={token}\n")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("fixtures/fake.env", f"K={fake}\n")
    (tmp_path / "bundle.zip").write_bytes(buffer.getvalue())
    monkeypatch.chdir(tmp_path)
    code = cli.main(["scan", ".", "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert (code, places(data)) == (1, ["./src/creds!fixtures", "./src/prod!fixtures/x.env"])


def test_a_zip_whose_end_record_understates_its_entries_is_refused_before_they_are_loaded(tmp_path, capsys):
    # zipfile loads every entry of the central directory whatever the end record says: a 90 MB zip of
    # 1 million empty entries claiming 1 took 520 MB and 19 s of CPU before the entry limit was hit.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for i in range(2000):
            archive.writestr(f"{i:05}", b"")
    raw = bytearray(buffer.getvalue())
    end = raw.rfind(b"PK\x05\x06")
    raw[end + 8 : end + 12] = b"\x01\x00\x01\x00"  # this disk's count and the total: 1
    path = tmp_path / "many.zip"
    path.write_bytes(bytes(raw))
    code = cli.main(["scan", str(path), "--format", "json", "--no-config", "--max-archive-entries", "1000"])
    data = json.loads(capsys.readouterr().out)
    assert (code, data["findings"]) == (0, [])
    assert [(s["path"], s["reason"]) for s in data["skipped"]] == [
        (str(path), "lists 2000 entries, more than 1000 in all: not read (--max-archive-entries 1000)")
    ]


def test_a_zip_of_overlapping_entries_is_refused(tmp_path, capsys):
    # Fifield's "better zip bomb": many directory entries reading one deflate stream, each under the
    # ratio limit. 100 entries over one 1.8 MB stream (35 times) made 1 GB to scan: 8 s, 200 MB.
    data = b"line of text\n" * 5000
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("data.txt", data)
    raw = buffer.getvalue()
    directory = raw.index(b"PK\x01\x02")
    end = raw.index(b"PK\x05\x06")
    entry = raw[directory:end]
    path = tmp_path / "overlap.zip"
    path.write_bytes(
        raw[:directory]
        + entry * 20
        + raw[end : end + 8]
        + (20).to_bytes(2, "little") * 2
        + (len(entry) * 20).to_bytes(4, "little")
        + raw[end + 16 :]
    )
    code, data_, _ = scan(path, capsys)
    assert (code, data_["findings"]) == (2, [])
    assert unread(data_) == [f"{path}: entries overlapping one another (a zip bomb?): not read"]


def test_a_token_in_a_tar_link_target_or_pax_record_is_found(tmp_path, capsys):
    # Plain text in a tar, found by a plain scan before archives were opened; then links were skipped
    # whole and pax records never looked at. Ordinary pax records (times, owners) are not scanned.
    token, other = new_pit(), new_pit()
    link = tarfile.TarInfo("app/current")
    link.type, link.linkname = tarfile.SYMTYPE, f"/run/{token}"
    note = tarfile.TarInfo("app/readme")
    note.pax_headers = {"comment": f"GHL_API_KEY={other}", "mtime": "1700000000.5"}
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        archive.addfile(link)
        archive.addfile(note, io.BytesIO(b""))
    path = tmp_path / "app.tar"
    path.write_bytes(buffer.getvalue())
    code, data, text = scan(path, capsys)
    assert (code, places(data)) == (1, [f"{path}!app/current (tar header)", f"{path}!app/readme (tar header)"])
    assert token not in text and other not in text


def test_an_image_member_hidden_by_a_later_one_of_the_same_name_is_read(tmp_path, capsys):
    # The image's members were looked up by name: the first of two `x/layer.tar` was never read.
    token = new_pit()
    hidden = tar_member("app/.env", f"K={token}".encode()) + tar_end()
    shown = tar_member("app/readme", b"hello") + tar_end()
    manifest = json.dumps([{"Config": "c.json", "Layers": ["x/layer.tar"]}]).encode()
    path = tmp_path / "image.tar"
    path.write_bytes(
        tar_member("manifest.json", manifest)
        + tar_member("c.json", b"{}")
        + tar_member("x/layer.tar", hidden)
        + tar_member("x/layer.tar", shown)
        + tar_end()
    )
    code, data, text = scan(path, capsys)
    assert (code, places(data)) == (1, [f"{path}!x/layer.tar!app/.env"])
    assert token not in text


def test_a_long_run_of_zeros_after_a_tar_ends_the_reading_and_is_told(tmp_path, capsys):
    # Reading past zero blocks (to find a tar after a tar) must not walk a 10 GB sparse file of zeros
    # block by block (129 s of CPU): past 1 MB of blocks that are no header, the rest is not read.
    token = new_pit()
    path = tmp_path / "padded.tar"
    path.write_bytes(tar_member("a.txt", b"hi") + b"\0" * (2 << 20) + tar_member("b.env", f"K={token}".encode()))
    code, data, text = scan(path, capsys)
    assert (code, data["findings"]) == (2, [])
    assert unread(data) == [
        f"{path}: a broken tar archive: ReadError: more than 2048 blocks in a row that are no header"
    ]
    assert token not in text


def test_a_zip_after_other_bytes_in_git_is_read_by_the_hook_and_audit(tmp_path):
    token = new_pit()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("app/.env", f"GHL_API_KEY={token}\n" * 3)
    repo = Repo(tmp_path / "r")
    repo.write("README", "x\n")
    repo.commit("init")
    repo.write("install.sh", b"#!/bin/sh\nexit 0\n" + buffer.getvalue())
    repo.git("add", "-A")
    run = [sys.executable, "-m", "pit_guard"]
    staged = subprocess.run(
        [*run, "hook", "pre-commit", "--no-config"], cwd=repo.path, env=git_env(), capture_output=True
    )
    assert staged.returncode == 1 and b"install.sh!app/.env:1:13" in staged.stdout, staged.stderr
    repo.commit("add it")
    audit = subprocess.run(
        [*run, "audit", "--no-config", "--format", "json"], cwd=repo.path, env=git_env(), capture_output=True
    )
    assert audit.returncode == 1, audit.stderr
    assert {f["path"] for f in json.loads(audit.stdout)["findings"]} == {"install.sh!app/.env"}
    assert token.encode() not in staged.stdout + staged.stderr + audit.stdout + audit.stderr
