"""Real git repositories in temp folders for the git-mode tests (no shared conftest fixtures)."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path
from typing import Dict, Optional, Union

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Ada Tester",
    "GIT_AUTHOR_EMAIL": "ada@example.com",
    "GIT_COMMITTER_NAME": "Ada Tester",
    "GIT_COMMITTER_EMAIL": "ada@example.com",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": os.devnull,
}


def new_pit() -> str:
    """A synthetic Private Integration Token, made fresh for each test."""
    return "pit-" + str(uuid.uuid4())


def git_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    env = dict(os.environ)
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "CI", "GITHUB_ACTIONS", "GITLAB_CI"):
        env.pop(name, None)
    env.update(GIT_ENV)
    env.update(extra or {})
    return env


class Repo:
    def __init__(self, path: Path, bare: bool = False, init: bool = True) -> None:
        self.path = path
        self.tick = 0
        if init:
            path.mkdir(parents=True, exist_ok=True)
            self.git("-c", "init.defaultBranch=main", "init", "-q", *(["--bare"] if bare else []))

    def git(self, *args: str, input: Optional[bytes] = None, check: bool = True) -> str:
        self.tick += 1
        # distinct, increasing dates keep "first commit" unambiguous
        date = f"2024-01-01T00:{self.tick // 60:02d}:{self.tick % 60:02d}+00:00"
        env = git_env({"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date})
        proc = subprocess.run(["git", *args], cwd=self.path, env=env, input=input, capture_output=True)
        if check and proc.returncode != 0:
            raise AssertionError(f"git {args} failed: {proc.stderr.decode()}")
        return proc.stdout.decode("utf-8", "surrogateescape")

    def write(self, name: Union[str, bytes], text: Union[str, bytes]) -> Path:
        path = Path(os.fsdecode(os.path.join(os.fsencode(str(self.path)), os.fsencode(name))))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode() if isinstance(text, str) else text)
        return path

    def commit(self, message: str = "change", *files: str, all_files: bool = True) -> str:
        if all_files:
            self.git("add", "-A")
        elif files:
            self.git("add", "--", *files)
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.head()

    def head(self) -> str:
        return self.git("rev-parse", "HEAD").strip()
