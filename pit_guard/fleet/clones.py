"""The clone cache: one bare mirror per remote URL, cloned once (all refs) and fetched after."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
from typing import Optional

from pit_guard.errors import FatalError
from pit_guard.finding import redact_url
from pit_guard.fleet.targets import Target
from pit_guard.sources import git


def user_cache_dir() -> str:
    """PIT_GUARD_CACHE_DIR, else $XDG_CACHE_HOME/pit-guard, else ~/.cache/pit-guard."""
    chosen = os.environ.get("PIT_GUARD_CACHE_DIR", "")
    if os.path.isabs(chosen):
        return chosen
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "pit-guard")


def default_clone_dir() -> str:
    return os.path.join(user_cache_dir(), "clones")


def entry_path(clone_dir: str, url: str) -> str:
    """`<clone_dir>/<readable name>-<hash of the URL>.git`: one entry per URL, whatever its name."""
    tail = url.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    slug = re.sub(r"[^A-Za-z0-9._-]", "_", tail)[:40].strip(".") or "repo"
    if slug.endswith(".git"):
        slug = slug[:-4]
    digest = hashlib.sha256(url.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return os.path.join(clone_dir, f"{slug}-{digest}.git")


def ensure(target: Target, clone_dir: str, timeout: float = 3600.0) -> str:
    """The local mirror of `target` (cloned now, or fetched when already cached)."""
    assert target.url is not None
    dest = entry_path(clone_dir, target.url)
    if os.path.lexists(dest):
        if not os.path.isdir(dest) or not git.is_mirror(dest):
            raise FatalError(
                f"clone cache entry {dest} is not a readable git repository (corrupt or incomplete): "
                "remove it and run again"
            )
        cached: Optional[str] = git.mirror_url(dest)
        if cached != target.url:
            raise FatalError(
                f"clone cache entry {dest} belongs to another URL ({redact_url(cached or '?')}): "
                "remove it or use another --clone-dir"
            )
        git.mirror_fetch(dest, target.url, target.headers, timeout)
        return dest
    try:
        # mirrors of private repositories: a folder pit-guard makes is the user's only (0700)
        os.makedirs(clone_dir, mode=0o700, exist_ok=True)
    except OSError as e:
        raise FatalError(f"--clone-dir {clone_dir}: cannot create it: {e.strerror or e}") from None
    # Cloned beside its place and renamed: an interrupted clone never leaves a half entry behind.
    tmp = tempfile.mkdtemp(prefix=".cloning-", dir=clone_dir)
    try:
        git.mirror_clone(target.url, os.path.join(tmp, "mirror.git"), target.headers, timeout)
        try:
            os.rename(os.path.join(tmp, "mirror.git"), dest)
        except OSError:
            if not git.is_mirror(dest):  # another run cloned it at the same moment: use theirs
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest
