"""`scan --image NAME[:TAG]`: the image as `docker save` (or `podman save`) writes it, when a client
whose daemon answers is installed. The tarball goes to an anonymous temporary file (deleted when
closed) and is read like any image tarball; no registry is ever contacted by pit-guard itself."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from typing import IO, List

from pit_guard.errors import FatalError

CLIENTS = ("docker", "podman")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@+-]*")  # never an option, never a path trick
INFO_TIMEOUT = 20.0  # seconds for `CLIENT info` to answer
SAVE_TIMEOUT = 1800.0  # seconds for `CLIENT save` to write the image


def _last_line(err: bytes) -> str:
    lines = [line for line in err.decode("utf-8", "replace").splitlines() if line.strip()]
    return lines[-1].strip()[:300] if lines else "no message"


def save_image(name: str) -> IO[bytes]:
    """The image `name` as a `save` tarball, positioned at its start; FatalError saying what to do
    when no client answers or the save fails."""
    if not _NAME.fullmatch(name):
        raise FatalError(f"--image {name!r} is not an image name such as app:1.2 or registry/app@sha256:...")
    tried: List[str] = []
    for client in CLIENTS:
        path = shutil.which(client)
        if path is None:
            continue
        try:
            info = subprocess.run(
                [path, "info"], stdin=subprocess.DEVNULL, capture_output=True, timeout=INFO_TIMEOUT, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            tried.append(f"{client}: {type(e).__name__}")
            continue
        if info.returncode != 0:
            tried.append(f"{client} is installed but its daemon does not answer ({_last_line(info.stderr)})")
            continue
        out = tempfile.TemporaryFile()
        try:
            saved = subprocess.run(
                [path, "save", name],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.PIPE,
                timeout=SAVE_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as e:
            out.close()
            raise FatalError(f"`{client} save {name}` did not finish: {type(e).__name__}") from None
        if saved.returncode != 0:
            out.close()
            raise FatalError(f"`{client} save {name}` failed: {_last_line(saved.stderr)}")
        out.seek(0)
        return out
    found = "; ".join(tried) if tried else f"neither {' nor '.join(CLIENTS)} is on PATH ({os.environ.get('PATH', '')})"
    raise FatalError(
        f"--image needs a docker or podman client whose daemon answers: {found}. "
        f"Or save the image where one runs (`docker save {name} -o image.tar`) and scan the tarball."
    )
