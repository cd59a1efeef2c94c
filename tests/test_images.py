"""Container images: `docker save` tarballs (current and legacy layout), OCI image-layout tarballs and
folders, and `scan --image` through a docker/podman client (faked here: no daemon is needed; a real
one is used only when it answers). Every image is built here with tarfile, gzip and json."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any, Callable, Dict, List, Tuple

import pytest
from git_helpers import new_pit
from in_process import Ran, Runner

from pit_guard import cli


def tar_bytes(entries: Dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Image:
    """An image with two layers: the first adds app/.env, the second deletes it (a whiteout)."""

    def __init__(self) -> None:
        self.env_token, self.run_token, self.label_token, self.file_token = (new_pit() for _ in range(4))
        self.layers = [
            tar_bytes({"./app/.env": f"GHL_TOKEN={self.file_token}\n".encode(), "./app/main.py": b"print(1)\n"}),
            tar_bytes({"./app/.wh..env": b"", "./etc/motd": b"hello\n"}),
        ]
        self.config = json.dumps(
            {
                "architecture": "amd64",
                "config": {
                    "Env": ["PATH=/usr/local/bin", f"GHL_API_KEY={self.env_token}"],
                    "Cmd": ["python", "main.py"],
                    "Entrypoint": ["/bin/sh", "-c"],
                    "Labels": {"org.example.key": self.label_token},
                },
                "history": [
                    {"created_by": "/bin/sh -c #(nop) ADD file:abc in /"},
                    {"created_by": f"/bin/sh -c #(nop)  ENV GHL_API_KEY={self.env_token}"},
                    {"created_by": f"RUN /bin/sh -c curl -H 'Authorization: Bearer {self.run_token}' x"},
                ],
                "rootfs": {"type": "layers", "diff_ids": [f"sha256:{digest(layer)}" for layer in self.layers]},
            }
        ).encode()

    def short(self, n: int) -> str:
        return digest(self.layers[n])[:12]

    def tokens(self) -> List[str]:
        return [self.env_token, self.run_token, self.label_token, self.file_token]

    def docker_save(self) -> bytes:
        blobs = {f"blobs/sha256/{digest(b)}": b for b in [self.config, *self.layers]}
        manifest = [
            {
                "Config": f"blobs/sha256/{digest(self.config)}",
                "RepoTags": ["app:1"],
                "Layers": [f"blobs/sha256/{digest(layer)}" for layer in self.layers],
            }
        ]
        return tar_bytes({**blobs, "manifest.json": json.dumps(manifest).encode(), "repositories": b"{}"})

    def legacy_docker_save(self) -> bytes:
        entries = {f"{digest(layer)}/layer.tar": layer for layer in self.layers}
        entries[f"{digest(self.config)}.json"] = self.config
        manifest = [
            {
                "Config": f"{digest(self.config)}.json",
                "RepoTags": ["app:1"],
                "Layers": [f"{digest(layer)}/layer.tar" for layer in self.layers],
            }
        ]
        return tar_bytes({**entries, "manifest.json": json.dumps(manifest).encode()})

    def oci_files(self) -> Dict[str, bytes]:
        """An OCI layout: gzip-compressed layers, an image manifest, an index."""
        layers = [gzip.compress(layer) for layer in self.layers]
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "config": {
                    "mediaType": "application/vnd.oci.image.config.v1+json",
                    "digest": f"sha256:{digest(self.config)}",
                },
                "layers": [
                    {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": f"sha256:{digest(layer)}"}
                    for layer in layers
                ],
            }
        ).encode()
        index = {"schemaVersion": 2, "manifests": [{"digest": f"sha256:{digest(manifest)}"}]}
        files = {f"blobs/sha256/{digest(b)}": b for b in [self.config, manifest, *layers]}
        files["oci-layout"] = b'{"imageLayoutVersion": "1.0.0"}'
        files["index.json"] = json.dumps(index).encode()
        self.oci_shorts = [digest(layer)[:12] for layer in layers]
        return files


def scan(args: List[str], capsys: pytest.CaptureFixture[str]) -> Tuple[int, Dict[str, Any], str]:
    code = cli.main([*args, "--format", "json", "--no-config"])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def found(data: Dict[str, Any]) -> List[Tuple[str, int]]:
    return sorted((f["path"], f["line"]) for f in data["findings"])


def expected(name: str, image: Image, shorts: List[str]) -> List[Tuple[str, int]]:
    return sorted(
        [
            (f"{name}!config Env", 2),
            (f"{name}!config Labels", 1),
            (f"{name}!config history", 2),
            (f"{name}!config history", 3),
            (f"{name}!layer {shorts[0]}/app/.env", 1),
        ]
    )


def test_a_docker_save_tarball(tmp_path: Path, capsys, monkeypatch):
    image = Image()
    monkeypatch.chdir(tmp_path)
    Path("image.tar").write_bytes(image.docker_save())
    code, data, err = scan(["scan", "image.tar"], capsys)
    assert code == 1, err
    assert found(data) == expected("image.tar", image, [image.short(0)])
    assert data["complete"] is True
    for token in image.tokens():
        assert token not in json.dumps(data) + err


def test_a_legacy_docker_save_tarball(tmp_path: Path, capsys, monkeypatch):
    image = Image()
    monkeypatch.chdir(tmp_path)
    Path("old.tar").write_bytes(image.legacy_docker_save())
    code, data, _ = scan(["scan", "old.tar"], capsys)
    assert code == 1
    assert found(data) == expected("old.tar", image, [image.short(0)])


def test_an_oci_layout_tarball_and_folder(tmp_path: Path, capsys, monkeypatch):
    image = Image()
    files = image.oci_files()
    monkeypatch.chdir(tmp_path)
    Path("oci.tar").write_bytes(tar_bytes(files))
    code, data, _ = scan(["scan", "oci.tar"], capsys)
    assert code == 1
    assert found(data) == expected("oci.tar", image, image.oci_shorts)
    for name, data_bytes in files.items():
        target = Path("layout") / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data_bytes)
    code, data, _ = scan(["scan", "layout"], capsys)
    assert code == 1
    assert found(data) == expected("layout", image, image.oci_shorts)


def test_sarif_points_at_the_image_file(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("image.tar").write_bytes(Image().docker_save())
    cli.main(["scan", "image.tar", "--format", "sarif", "--no-config"])
    results = json.loads(capsys.readouterr().out)["runs"][0]["results"]
    assert {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in results} == {"image.tar"}
    assert "config Env" in {r["properties"]["archivePath"] for r in results}


def test_a_missing_layer_fails_the_run(tmp_path: Path, capsys, monkeypatch):
    image = Image()
    monkeypatch.chdir(tmp_path)
    with tarfile.open(fileobj=io.BytesIO(image.docker_save())) as full:
        kept = {
            m.name: full.extractfile(m).read()  # type: ignore[union-attr]
            for m in full.getmembers()
            if m.name != f"blobs/sha256/{digest(image.layers[1])}"
        }
    Path("image.tar").write_bytes(tar_bytes(kept))
    code, data, _ = scan(["scan", "image.tar"], capsys)
    assert code == 2
    assert [u["path"] for u in data["skipped"]] == [f"image.tar!layer {image.short(1)}"]
    assert ("image.tar!config Env", 2) in found(data)


def test_hostile_manifests_and_unreadable_layers_fail_the_run_without_a_traceback(tmp_path: Path, capsys):
    image = Image()
    token = new_pit()
    deep = b"[" * 100_000 + b"]" * 100_000
    for manifest in (b"not json", deep, b'[{"Config": 5, "Layers": [7, null]}]'):
        (tmp_path / "m.tar").write_bytes(tar_bytes({"manifest.json": manifest, "a.env": f"K={token}".encode()}))
        code, data, err = scan(["scan", str(tmp_path / "m.tar")], capsys)
        # A manifest that cannot be read makes no image: every file is read as it is, none left out.
        assert (code, [p for p, _ in found(data)]) == (1, [f"{tmp_path}/m.tar!a.env"]), err
        assert "Traceback" not in err and token not in err
    zstd_layer = b"\x28\xb5\x2f\xfd" + bytes(600)
    files = image.oci_files()
    layer_name = next(n for n in files if n.split("/")[-1].startswith(image.oci_shorts[1]))
    files[layer_name] = zstd_layer
    (tmp_path / "z.tar").write_bytes(tar_bytes(files))
    code, data, _ = scan(["scan", str(tmp_path / "z.tar")], capsys)
    assert code == 2
    assert [(u["path"], "zstd" in u["reason"]) for u in data["skipped"]] == [
        (f"{tmp_path}/z.tar!layer {image.oci_shorts[1]}", True)
    ]
    assert (f"{tmp_path}/z.tar!config Env", 2) in found(data)


def test_tars_that_are_no_image_are_plain_archives(tmp_path: Path, capsys, monkeypatch):
    from pit_guard.archives import images

    assert images._IMAGE_MEMBERS == 4096  # the default; below, a smaller bound to go past (same code path)
    monkeypatch.setattr(images, "_IMAGE_MEMBERS", 64)
    token, other = new_pit(), new_pit()
    many = {f"src/f{i}.txt": b"x" for i in range(100)}  # past the member count an image can have
    many["src/zz.env"] = f"K={token}\n".encode()
    (tmp_path / "many.tar").write_bytes(tar_bytes(many))
    pwa = {"manifest.json": b'{"name": "app", "start_url": "/"}', "static/app.env": f"K={other}\n".encode()}
    (tmp_path / "pwa.tar").write_bytes(tar_bytes(pwa))  # a web app's manifest.json is no image manifest
    code, data, _ = scan(["scan", str(tmp_path)], capsys)
    assert code == 1 and data["complete"] is True
    assert [p for p, _ in found(data)] == [f"{tmp_path}/many.tar!src/zz.env", f"{tmp_path}/pwa.tar!static/app.env"]


# --- scan --image -----------------------------------------------------------------------------------


def fake_client(folder: Path, name: str, info_ok: bool, tarball: Path) -> None:
    script = folder / name
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys, shutil\n"
        "if sys.argv[1] == 'info':\n"
        f"    sys.exit(0 if {info_ok} else (print('Cannot connect to the daemon', file=sys.stderr) or 1))\n"
        "if sys.argv[1:] == ['save', 'app:1']:\n"
        f"    shutil.copyfileobj(open({str(tarball)!r}, 'rb'), sys.stdout.buffer); sys.exit(0)\n"
        "print('no such image', file=sys.stderr); sys.exit(1)\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)


@pytest.fixture
def run_image(in_process: Runner) -> Callable[..., Ran]:
    """`pit-guard scan ARGS --no-config` with PATH=`path`, in-process (the clients are real processes);
    its output as bytes."""

    def run(path: str, *args: str) -> Ran:
        proc = in_process("scan", *args, "--no-config", cwd=os.getcwd(), env={**os.environ, "PATH": path})
        return Ran(proc.returncode, proc.stdout.encode(), proc.stderr.encode())  # type: ignore[arg-type]

    return run


def test_scan_image_through_a_client(tmp_path: Path, run_image: Callable[..., Ran]):
    image = Image()
    tarball = tmp_path / "saved.tar"
    tarball.write_bytes(image.docker_save())
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_client(bin_dir, "docker", False, tarball)  # installed, no daemon: podman is tried next
    fake_client(bin_dir, "podman", True, tarball)
    proc = run_image(str(bin_dir), "--image", "app:1", "--format", "json")
    assert proc.returncode == 1, proc.stderr
    paths = {f["path"] for f in json.loads(proc.stdout)["findings"]}
    assert f"app:1!layer {image.short(0)}/app/.env" in paths and "app:1!config Env" in paths
    missing = run_image(str(bin_dir), "--image", "other:2")
    assert missing.returncode == 2 and b"`podman save other:2` failed: no such image" in missing.stderr


def test_scan_image_without_a_daemon_says_so(tmp_path: Path, run_image: Callable[..., Ran]):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake_client(bin_dir, "docker", False, tmp_path / "none.tar")
    proc = run_image(str(bin_dir), "--image", "app:1")
    assert proc.returncode == 2
    assert b"docker is installed but its daemon does not answer (Cannot connect to the daemon)" in proc.stderr
    assert b"Traceback" not in proc.stderr
    nothing = run_image(str(tmp_path / "empty"), "--image", "app:1")
    assert nothing.returncode == 2 and b"neither docker nor podman is on PATH" in nothing.stderr
    assert run_image(str(bin_dir), "--image", "-rf").returncode == 2


def _daemon_answers() -> bool:
    docker = shutil.which("docker")
    if docker is None:
        return False
    try:
        return subprocess.run([docker, "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.skipif(not _daemon_answers(), reason="no docker daemon answers here")
def test_scan_image_with_a_real_docker(
    tmp_path: Path, run_image: Callable[..., Ran]
):  # pragma: no cover - needs a daemon
    image = Image()
    tarball = tmp_path / "image.tar"
    tarball.write_bytes(image.docker_save())
    loaded = subprocess.run(["docker", "load", "-i", str(tarball)], capture_output=True)
    if loaded.returncode != 0:
        pytest.skip("docker could not load the synthetic image")
    proc = run_image(os.environ["PATH"], "--image", "app:1", "--format", "json")
    assert proc.returncode == 1, proc.stderr
    assert "app:1!config Env" in {f["path"] for f in json.loads(proc.stdout)["findings"]}
