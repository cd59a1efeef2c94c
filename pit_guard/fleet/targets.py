"""What a fleet audit reads: local paths and remote URLs, how each is named in reports, and which
shard each one belongs to."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
import re
import urllib.parse
from typing import List, Optional, Sequence, Tuple

from pit_guard.errors import FatalError
from pit_guard.finding import redact_url

# `git@host:owner/repo.git` (scp-like ssh): a remote, although it has no `://`.
_SCP_LIKE = re.compile(r"^[A-Za-z0-9._~-]+@[A-Za-z0-9.-]+:(?!//)")


@dataclasses.dataclass(frozen=True)
class Target:
    """One repository to audit. `name` is what every report shows (a redacted URL or the path as
    given); `headers` (git `http.<prefix>.extraHeader` values) carry a credential and are never shown."""

    name: str
    url: Optional[str] = None  # a remote, without userinfo; None for a local path
    path: Optional[str] = None  # a local repository
    headers: Tuple[Tuple[str, str], ...] = dataclasses.field(default=(), repr=False, compare=False)


def is_remote(arg: str) -> bool:
    if os.path.exists(arg):
        return False
    return "://" in arg or bool(_SCP_LIKE.match(arg))


def basic_header(prefix: str, user: str, password: str) -> Tuple[str, str]:
    """An `Authorization: Basic` header for git, scoped to URLs starting with `prefix`."""
    raw = base64.b64encode(f"{user}:{password}".encode()).decode()
    return prefix, f"Authorization: Basic {raw}"


def remote_target(url: str, headers: Sequence[Tuple[str, str]] = ()) -> Target:
    """A remote URL: a user or user:password in an http(s) URL becomes a header for git (never a
    command-line argument: `https://TOKEN@host/` is a credential too) and is dropped from the URL
    itself, so the clone cache's config never holds it either. A query string (`?private_token=`)
    or a password in another scheme cannot be moved out of the URL: refused, never shown."""
    extra = list(headers)
    if "://" in url:
        try:
            parts = urllib.parse.urlsplit(url)
            port = parts.port
        except ValueError as e:
            raise FatalError(f"{_shown(url)}: not a valid URL ({e})") from None
        if parts.scheme not in ("http", "https", "ssh", "git", "file", "git+ssh", "ssh+git"):
            raise FatalError(f"{_shown(url)}: unsupported URL scheme {parts.scheme!r} (https, ssh, git, file)")
        if parts.query:
            raise FatalError(
                f"{_shown(url)}: a query string in a repository URL is not supported (it may hold a token: "
                "give a token as https://user:TOKEN@host/..., or GITHUB_TOKEN / GITLAB_TOKEN with an organisation)"
            )
        if parts.password is not None and parts.scheme not in ("http", "https"):
            raise FatalError(f"{_shown(url)}: a password in a {parts.scheme} URL is not supported (use a key)")
        if parts.username is not None and parts.scheme in ("http", "https"):
            netloc = parts.hostname or ""
            if ":" in netloc:
                netloc = f"[{netloc}]"
            if port:
                netloc += f":{port}"
            url = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))
            user = urllib.parse.unquote(parts.username)
            extra.append(basic_header(url, user, urllib.parse.unquote(parts.password or "")))
    return Target(redact_url(url), url=url, headers=tuple(extra))


def _shown(url: str) -> str:
    """A URL in an error message: userinfo redacted, any query string hidden."""
    base, sep, _ = url.partition("?")
    return redact_url(base) + ("?***" if sep else "")


def parse_targets(args: Sequence[str]) -> List[Target]:
    """Command-line REPO arguments, in order, duplicates dropped."""
    out: List[Target] = []
    seen = set()
    for arg in args:
        target = remote_target(arg) if is_remote(arg) else Target(arg, path=arg)
        key = target.url or os.path.realpath(arg)
        if key not in seen:
            seen.add(key)
            out.append(target)
    return out


def parse_shard(text: str) -> Tuple[int, int]:
    """`I/N` (1-based, as CI matrices count) -> (i, n) with 0 <= i < n."""
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match or not 1 <= int(match.group(1)) <= int(match.group(2)):
        raise FatalError(f"--shard {text!r}: expected I/N with 1 <= I <= N, e.g. 2/3")
    return int(match.group(1)) - 1, int(match.group(2))


def repository_shard(name: str, count: int) -> int:
    """The shard (0-based) a repository belongs to: a stable hash of its reported name."""
    return int(hashlib.sha256(name.encode("utf-8", "surrogateescape")).hexdigest()[:12], 16) % count
