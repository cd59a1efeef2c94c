"""Archives everywhere pit-guard reads bytes: files on disk, stdin, staged blobs, ranges, pushes and
history. Every fixture is built here with the standard library, with tokens made fresh per test."""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import os
import tarfile
import zipfile
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
from ghl_fake_server import LIVE_200
from git_helpers import Repo, git_env, new_pit
from in_process import Ran, Runner

from pit_guard import cli
from pit_guard.archives.limits import kind


def zip_bytes(entries: Dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def tar_bytes(entries: Dict[str, bytes], mode: str = "w") -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as archive:  # type: ignore[call-overload]
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def run(args: List[str], capsys: pytest.CaptureFixture[str]) -> Tuple[int, str, str]:
    code = cli.main(args)
    out, err = capsys.readouterr()
    return code, out, err


def report(args: List[str], capsys: pytest.CaptureFixture[str]) -> Tuple[int, Dict[str, Any], str]:
    code, out, err = run([*args, "--format", "json", "--no-config"], capsys)
    return code, json.loads(out), err


def places(data: Dict[str, Any]) -> List[str]:
    return sorted(f["path"] for f in data["findings"])


def test_nested_zip_in_tar_gz_in_zip_is_placed_with_a_bang_chain(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    token = new_pit()
    inner = zip_bytes({"deep/.env": f"GHL_TOKEN={token}\n".encode()})
    middle = tar_bytes({"./pkg/inner.zip": inner}, "w:gz")
    (tmp_path / "release.zip").write_bytes(zip_bytes({"dist/bundle.tgz": middle}))
    code, data, err = report(["scan", str(tmp_path / "release.zip")], capsys)
    assert code == 1
    [finding] = data["findings"]
    assert finding["path"] == f"{tmp_path}/release.zip!dist/bundle.tgz!pkg/inner.zip!deep/.env"
    assert finding["archive"] == f"{tmp_path}/release.zip"
    assert finding["archive_path"] == "dist/bundle.tgz!pkg/inner.zip!deep/.env"
    assert (finding["line"], finding["column"]) == (1, 11)
    assert token not in json.dumps(data) + err


@pytest.mark.parametrize("name", ["export.jar", "report.docx", "no-extension", "plugin.whl", "app.apk"])
def test_zip_based_files_are_told_by_their_magic_not_their_name(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    token = new_pit()
    (tmp_path / name).write_bytes(zip_bytes({"word/document.xml": f"<t>{token}</t>".encode()}))
    code, data, _ = report(["scan", str(tmp_path)], capsys)
    assert code == 1
    assert places(data) == [f"{tmp_path}/{name}!word/document.xml"]


@pytest.mark.parametrize(
    "name, make",
    [
        ("a.tar", lambda e: tar_bytes(e, "w")),
        ("a.tgz", lambda e: tar_bytes(e, "w:gz")),
        ("a.tar.bz2", lambda e: tar_bytes(e, "w:bz2")),
        ("a.tar.xz", lambda e: tar_bytes(e, "w:xz")),
        ("stored.zip", lambda e: zip_bytes(e, zipfile.ZIP_STORED)),
        ("bz.zip", lambda e: zip_bytes(e, zipfile.ZIP_BZIP2)),
        ("xz.zip", lambda e: zip_bytes(e, zipfile.ZIP_LZMA)),
    ],
)
def test_every_container_format(name: str, make: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    token = new_pit()
    (tmp_path / name).write_bytes(make({"app/.env": f"X={token}\n".encode(), "app/readme": b"nothing"}))
    code, data, _ = report(["scan", str(tmp_path / name)], capsys)
    assert code == 1
    assert places(data) == [f"{tmp_path}/{name}!app/.env"]
    assert data["complete"] is True


@pytest.mark.parametrize(
    "name, compress, inner",
    [
        ("settings.env.gz", gzip.compress, "settings.env"),
        ("settings.env.bz2", bz2.compress, "settings.env"),
        ("settings.env.xz", lzma.compress, "settings.env"),
        ("blob", gzip.compress, "(decompressed)"),
    ],
)
def test_single_compressed_files(name: str, compress: Any, inner: str, tmp_path: Path, capsys):
    token = new_pit()
    (tmp_path / name).write_bytes(compress(f"K={token}\n".encode()))
    code, data, _ = report(["scan", str(tmp_path / name)], capsys)
    assert code == 1
    assert places(data) == [f"{tmp_path}/{name}!{inner}"]


def test_a_token_in_an_entry_name_is_redacted_and_traversal_names_touch_nothing(tmp_path: Path, capsys):
    token, other = new_pit(), new_pit()
    entries = {f"keys/{token}.txt": f"v={other}".encode(), "../../../../escape.txt": f"v={other}".encode()}
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.zip").write_bytes(zip_bytes(entries))
    before = sorted(p.name for p in tmp_path.rglob("*"))
    code, out, err = run(["scan", str(tmp_path / "in"), "--no-config"], capsys)
    assert code == 1
    assert token not in out + err and other not in out + err
    assert f"a.zip!keys/{token[:8]}…{token[-4:]}.txt" in out
    assert "a.zip!../../../../escape.txt" in out
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing extracted anywhere
    assert not (tmp_path.parent / "escape.txt").exists()
    code, out, _ = run(["scan", str(tmp_path / "in"), "--no-config", "--show-secrets"], capsys)
    assert f"a.zip!keys/{token}.txt" in out


def test_a_token_in_a_file_and_in_a_zip_is_one_credential_for_baselines(tmp_path: Path, capsys, monkeypatch):
    token = new_pit()
    monkeypatch.chdir(tmp_path)
    Path("plain.env").write_text(f"K={token}\n")
    code, data, _ = report(["scan", "plain.env"], capsys)
    assert code == 1
    assert run(["baseline", "plain.env", "--no-config", "-o", "b.json"], capsys)[0] == 0
    Path("bundle.zip").write_bytes(zip_bytes({"conf/.env": f"K={token}\n".encode()}))
    code, data2, _ = report(["scan", "bundle.zip"], capsys)
    assert code == 1 and data2["findings"][0]["fingerprint"] == data["findings"][0]["fingerprint"]
    code, data3, err = report(["scan", "bundle.zip", "--baseline", "b.json"], capsys)
    assert code == 0 and data3["findings"] == []
    assert "1 by baseline b.json" in err


def test_config_excludes_match_the_inner_path(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("bundle.zip").write_bytes(
        zip_bytes({"fixtures/fake.env": f"K={new_pit()}\n".encode(), "conf/.env": f"K={new_pit()}\n".encode()})
    )
    Path(".pit-guard.toml").write_text('exclude = ["fixtures/"]\n')
    code, out, err = run(["scan", "bundle.zip", "--format", "json"], capsys)
    assert code == 1
    assert places(json.loads(out)) == ["bundle.zip!conf/.env"]
    assert ".pit-guard.toml exclude" in err and "1 finding suppressed" in err
    Path(".pit-guard.toml").write_text('exclude = ["*.zip"]\n')  # the outer path still matches
    code, out, _ = run(["scan", "bundle.zip", "--format", "json"], capsys)
    assert code == 0 and json.loads(out)["findings"] == []


def test_sarif_and_gitlab_point_at_the_outer_file(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("bundle.zip").write_bytes(zip_bytes({"conf/.env": f"K={new_pit()}\n".encode()}))
    code, out, _ = run(["scan", "bundle.zip", "--format", "sarif", "--no-config"], capsys)
    [result] = json.loads(out)["runs"][0]["results"]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "bundle.zip"
    assert result["properties"]["archivePath"] == "conf/.env"
    code, out, _ = run(["scan", "bundle.zip", "--format", "gitlab", "--no-config"], capsys)
    [vulnerability] = json.loads(out)["vulnerabilities"]
    assert vulnerability["location"]["file"] == "bundle.zip"
    assert vulnerability["details"]["archive_path"]["value"] == "conf/.env"
    for fmt in ("text", "markdown"):
        code, out, _ = run(["scan", "bundle.zip", "--format", fmt, "--no-config"], capsys)
        assert code == 1 and "bundle.zip!conf/.env" in out


def test_validate_checks_a_token_found_in_an_archive(tmp_path: Path, capsys, monkeypatch, ghl):
    token = new_pit()
    ghl.reply(token, LIVE_200)
    (tmp_path / "b.zip").write_bytes(zip_bytes({"x/.env": f"K={token}\n".encode()}))
    code, data, _ = report(["scan", str(tmp_path / "b.zip"), "--validate"], capsys)
    assert code == 1
    assert data["findings"][0]["validation"]["status"] == "live"


def test_an_archive_on_stdin(tmp_path: Path, in_process: Runner):
    token = new_pit()
    data = tar_bytes({"app/.env": f"K={token}\n".encode()}, "w:xz")
    proc = in_process("scan", "-", "--no-config", cwd=tmp_path, stdin=data)
    assert proc.returncode == 1, proc.stderr
    assert "<stdin>!app/.env:1:3" in proc.stdout
    assert token not in proc.stdout + proc.stderr
    zipped = zip_bytes({"b/.env": f"K={token}\n".encode()})
    proc = in_process("scan", "-", cwd=tmp_path, stdin=zipped)
    assert proc.returncode == 1 and "<stdin>!b/.env" in proc.stdout


def test_depth_zero_reads_archives_as_bytes_and_says_so(tmp_path: Path, capsys):
    token = new_pit()
    (tmp_path / "s.zip").write_bytes(zip_bytes({"a.env": f"K={token}\n".encode()}, zipfile.ZIP_STORED))
    code, data, err = report(["scan", str(tmp_path / "s.zip"), "--max-archive-depth", "0"], capsys)
    assert code == 1  # the stored bytes still hold the token: found at the archive itself
    assert places(data) == [f"{tmp_path}/s.zip"]
    assert "skipped" in err and "--max-archive-depth 0" in err and data["complete"] is True


def test_kind_is_told_by_magic() -> None:
    assert kind(zip_bytes({"a": b"b"})[:512]) == "zip"
    assert kind(tar_bytes({"a": b"b"})[:512]) == "tar"
    assert kind(gzip.compress(b"x")) == "gzip"
    assert kind(bz2.compress(b"x")) == "bzip2"
    assert kind(lzma.compress(b"x")) == "xz"
    assert kind(b"PK but not a zip") is None
    assert kind(b"BZh not bzip2") is None
    assert kind(b"plain text " * 60) is None


# --- git: staged, pushed, history ----------------------------------------------------------------


class Hook:
    """`pit-guard ARGS --no-config` in a repository, in-process (in_process), its output as bytes."""

    def __init__(self, in_process: Runner) -> None:
        self.in_process = in_process

    def __call__(self, repo: Repo, *args: str, stdin: bytes = b"") -> Ran:
        proc = self.in_process(*args, "--no-config", cwd=repo.path, env=git_env(), stdin=stdin)
        return Ran(proc.returncode, proc.stdout.encode(), proc.stderr.encode())  # type: ignore[arg-type]


@pytest.fixture
def hook(in_process: Runner) -> Hook:
    return Hook(in_process)


def test_an_archive_staged_committed_and_pushed_is_found_by_hooks_and_audit(tmp_path: Path, hook: Hook):
    token = new_pit()
    repo = Repo(tmp_path / "r")
    repo.write("README", "hello\n")
    repo.commit("init")
    repo.write("dist/export.zip", zip_bytes({"n8n/workflow.json": f'{{"token": "{token}"}}'.encode()}))
    repo.git("add", "-A")
    staged = hook(repo, "hook", "pre-commit")
    assert staged.returncode == 1, staged.stderr
    assert b"dist/export.zip!n8n/workflow.json:1:" in staged.stdout
    repo.commit("add export")
    head = repo.head()
    pushed = hook(repo, "hook", "pre-push", stdin=f"refs/heads/main {head} refs/heads/main {'0' * 40}\n".encode())
    assert pushed.returncode == 1, pushed.stderr
    assert b"dist/export.zip!n8n/workflow.json" in pushed.stdout
    ranged = hook(repo, "scan", "--range", f"{head}~1..{head}", "--format", "json")
    assert [f["path"] for f in json.loads(ranged.stdout)["findings"]] == ["dist/export.zip!n8n/workflow.json"]
    repo.git("rm", "-q", "dist/export.zip")
    repo.commit("remove it")
    audit = hook(repo, "audit", "--format", "json")
    assert audit.returncode == 1, audit.stderr
    [finding] = json.loads(audit.stdout)["findings"]
    assert finding["path"] == "dist/export.zip!n8n/workflow.json"
    assert finding["provenance"]["commit"] == head and finding["provenance"]["in_head"] is False
    for proc in (staged, pushed, ranged, audit):
        assert token.encode() not in proc.stdout + proc.stderr


def test_a_staged_archive_whose_old_version_had_the_token_reports_nothing_new(tmp_path: Path, hook: Hook):
    token = new_pit()
    repo = Repo(tmp_path / "r")
    repo.write("a.tgz", tar_bytes({"x/.env": f"K={token}\n".encode()}, "w:gz"))
    repo.commit("first")
    repo.write("a.tgz", tar_bytes({"x/.env": f"K={token}\n".encode(), "y": b"more"}, "w:gz"))
    repo.git("add", "-A")
    staged = hook(repo, "hook", "pre-commit")
    assert staged.returncode == 0, staged.stdout + staged.stderr


def test_an_untracked_archive_named_to_the_hook_is_read_from_disk(tmp_path: Path, hook: Hook):
    repo = Repo(tmp_path / "r")
    repo.write("README", "x\n")
    repo.commit("init")
    repo.write("new.zip", zip_bytes({"k/.env": f"K={new_pit()}\n".encode()}))
    proc = hook(repo, "hook", "pre-commit", "new.zip")
    assert proc.returncode == 1, proc.stderr
    assert b"new.zip!k/.env:1:3" in proc.stdout
    assert os.fsencode(str(repo.path)) not in proc.stdout
