"""Archives and images: throughput and bounds (everything is generated here, in a temp dir).

    .venv/bin/python bench/bench_archives.py                 # 200 MB zip, 42.zip-style bomb, 300 MB image
    .venv/bin/python bench/bench_archives.py --mb 50 --image-mb 60

1. The same source-like files (bench_detect's corpus) scanned unpacked in a folder and as one
   deflated zip, side by side in this process: CPU time (time.process_time) and the ratio.
2. A 42.zip-style bomb (5 levels of 16 copies, 16 x 4 MB of zeros a leaf: 64 TB if unpacked),
   scanned by `pit-guard scan` in a child process: wall time, CPU time and peak memory (getrusage).
3. A `docker save` tarball of 10 layers (~--image-mb MB in all) by `pit-guard scan`: the same figures.
The machine may be shared: CPU times are the figures to compare; wall times are told as taken.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from typing import Dict, List, Tuple

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from bench_detect import build_corpus  # noqa: E402

from pit_guard.sources.files import scan_paths  # noqa: E402

MB = 1 << 20


def _cpu(fn: "object") -> Tuple[float, float, object]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()  # type: ignore[operator]
    return time.process_time() - cpu, time.perf_counter() - wall, result


def bench_zip_vs_files(root: str, mb: float) -> None:
    files, planted = build_corpus(mb)
    folder = os.path.join(root, "unpacked")
    os.makedirs(folder)
    zipped = os.path.join(root, "corpus.zip")
    with zipfile.ZipFile(zipped, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for i, data in enumerate(files):
            name = f"src/m{i % 50}/f{i}.txt"
            os.makedirs(os.path.join(folder, os.path.dirname(name)), exist_ok=True)
            with open(os.path.join(folder, name), "wb") as f:
                f.write(data)
            archive.writestr(name, data)
    total = sum(len(d) for d in files)
    print(f"corpus: {len(files)} files, {total / 1e6:.0f} MB; zip {os.path.getsize(zipped) / 1e6:.0f} MB")
    scan_paths([folder])  # warm the prefilter (hyperscan database) before timing either
    rows = []
    for label, target in (("files", folder), ("zip", zipped), ("files", folder), ("zip", zipped)):
        cpu, wall, result = _cpu(lambda target=target: scan_paths([target]))
        found = len(result.findings)  # type: ignore[attr-defined]
        rows.append((label, cpu, wall, found))
        print(f"  {label:5} cpu {cpu:6.2f} s  {total / 1e6 / cpu:6.1f} MB/s cpu  wall {wall:6.2f} s  findings {found}")
    best = {label: min(c for lbl, c, _, _ in rows if lbl == label) for label in ("files", "zip")}
    print(
        f"  zip / files speed (best CPU of two): {best['files'] / best['zip']:.2f}x (goal >= 0.5x);"
        f" planted {len(planted)}"
    )


def _zip(entries: Dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


# Run argv[3:] with stdout/stderr to the files argv[1], argv[2]; print its exit code, CPU s and peak RSS (KB).
# Spawned from this small process: Linux counts the memory a process had before exec in its peak RSS,
# and a child spawned straight from a large parent (pytest, a benchmark holding its corpus) would show that.
MEASURE = """
import os, sys
flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
actions = [(os.POSIX_SPAWN_OPEN, 1, sys.argv[1], flags, 0o600), (os.POSIX_SPAWN_OPEN, 2, sys.argv[2], flags, 0o600)]
pid = os.posix_spawn(sys.argv[3], sys.argv[3:], dict(os.environ), file_actions=actions)
_, status, usage = os.wait4(pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime, usage.ru_maxrss)
"""


def _child(args: List[str], cwd: str) -> Tuple[float, float, float, int, str]:
    """(wall s, CPU s, peak RSS MB, exit code, last stderr line) of `pit-guard ARGS` in a child
    (its own figures: see MEASURE)."""
    out, err = os.path.join(cwd, "child.out"), os.path.join(cwd, "child.err")
    argv = [sys.executable, "-c", MEASURE, out, err, sys.executable, "-m", "pit_guard"]
    wall = time.perf_counter()
    proc = subprocess.run([*argv, *args, "--no-config", "--format", "json"], cwd=cwd, capture_output=True, check=True)
    wall = time.perf_counter() - wall
    code, cpu, peak = proc.stdout.split()
    with open(err, "rb") as f:
        last = f.read().decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
    return wall, float(cpu), int(peak) / 1024, int(code), last[0]


def bench_bomb(root: str) -> None:
    leaf = _zip({f"zeros{i}.bin": bytes(4 * MB) for i in range(16)})
    data = leaf
    for level in range(5):
        data = _zip({f"l{level}-{i}.zip": data for i in range(16)})
    path = os.path.join(root, "42.zip")
    with open(path, "wb") as f:
        f.write(data)
    print(f"42.zip-style bomb: {len(data) / 1e3:.0f} KB on disk, {16**6 * 4 / 1e6:.0f} TB unpacked")
    for extra in ([], ["--max-archive-depth", "50"]):
        wall, cpu, rss, code, last = _child(["scan", path, *extra], root)
        print(
            f"  {' '.join(extra) or 'defaults':28} wall {wall:5.2f} s  cpu {cpu:5.2f} s"
            f"  peak RSS {rss:4.0f} MB  exit {code}  ({last})"
        )


def _tar(entries: Dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def bench_image(root: str, image_mb: float) -> None:
    import hashlib

    files, _ = build_corpus(image_mb)
    layers: List[bytes] = []
    per = (len(files) + 9) // 10
    for n in range(10):
        layers.append(_tar({f"app/l{n}/f{i}.txt": d for i, d in enumerate(files[n * per : (n + 1) * per])}))
    config = json.dumps({"config": {"Env": ["PATH=/bin"]}, "history": [{"created_by": "RUN true"}] * 10}).encode()
    blobs = {f"blobs/sha256/{hashlib.sha256(b).hexdigest()}": b for b in [config, *layers]}
    manifest = [{"Config": list(blobs)[0], "RepoTags": ["bench:1"], "Layers": list(blobs)[1:]}]
    path = os.path.join(root, "image.tar")
    with open(path, "wb") as f:
        f.write(_tar({**blobs, "manifest.json": json.dumps(manifest).encode()}))
    del files, layers, blobs
    size = os.path.getsize(path)
    print(f"image tarball: 10 layers, {size / 1e6:.0f} MB")
    wall, cpu, rss, code, last = _child(["scan", path], root)
    print(
        f"  wall {wall:5.2f} s  cpu {cpu:5.2f} s ({size / 1e6 / cpu:.0f} MB/s cpu)  peak RSS {rss:4.0f} MB  exit {code}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=200, help="corpus size for zip vs files")
    parser.add_argument("--image-mb", type=float, default=300, help="image tarball size")
    parser.add_argument("--skip", nargs="*", default=[], choices=["zip", "bomb", "image"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        if "zip" not in args.skip:
            bench_zip_vs_files(root, args.mb)
        if "bomb" not in args.skip:
            bench_bomb(root)
        if "image" not in args.skip:
            bench_image(root, args.image_mb)
    print("(wall times taken on a shared, loaded machine: compare CPU times)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
