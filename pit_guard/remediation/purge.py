"""`pit-guard purge`: rewrite a repository's history without its credentials, on a mirror clone, and
prove it by auditing the result.

The steps (commands/purge.py prints them and, with --apply, runs them):
1. the credentials: from a pit-guard JSON report (redacted secrets re-read from the commit they
   name) or from an audit run now;
2. revocation first: a credential that may still work (live, unknown, not checked) stops the purge
   unless the user says it is revoked;
3. a `git filter-repo` expressions file (0600, outside every work tree): each secret, and each
   encoded form of it, -> `***REMOVED-<rule id>***`;
4. `git clone --mirror` into a new folder, git-filter-repo there (never in the user's clone);
5. `audit` of the rewritten clone: done only when it finds nothing.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os
import re
import sys
import urllib.parse
from typing import Dict, List, Sequence, Tuple

from pit_guard.errors import FatalError
from pit_guard.finding import NO_SIZE_LIMIT, Finding, Unread, display_path
from pit_guard.sources import git

EXPRESSIONS_NAME = "pit-guard-purge-expressions.txt"
# Statuses that say a credential no longer opens anything; every other one (live, unknown,
# not-checked, or never validated) may still work.
_NOT_WORKING = ("dead", "expired")


@dataclasses.dataclass(frozen=True)
class Target:
    """The repository to purge."""

    repo: git.Repo
    folder: str  # the work tree root, or the git dir of a bare repository

    @property
    def default_into(self) -> str:
        return self.folder.rstrip(os.sep) + "-purged"


def target(path: str) -> Target:
    repo = git.open_repo(path)
    return Target(repo, os.path.abspath(repo.cwd))


# --- 1. the credentials ---------------------------------------------------------------------------


def from_report(report_file: str, where: Target) -> List[Finding]:
    """The report's findings with their full secrets. A secret that cannot be recovered stops the
    purge: rewriting history without it would leave it there and look done."""
    from pit_guard.validation.from_report import findings_from_report

    try:
        with open(report_file, encoding="utf-8") as f:
            document = json.load(f)
    except (OSError, ValueError, RecursionError) as e:
        raise FatalError(f"{report_file}: not a readable pit-guard JSON report ({e.__class__.__name__})") from None
    findings, missing = findings_from_report(document, root=where.folder, name=report_file)
    if missing:
        # A credential in a commit or tag message (`<commit 1a2b3c message>`) has no file to re-read:
        # the audit of this repository gives it back, by the fingerprint the report holds.
        audited = {f.fingerprint: f for f in audit(where.folder)[0]}
        for entry, _ in list(missing):
            again = audited.get(str(entry.get("fingerprint")))
            if again is not None and again.rule_id == entry.get("rule_id"):
                findings.append(again)
                missing.remove((entry, _))
    if missing:
        entry, why = missing[0]
        raise FatalError(
            f"{report_file}: {len(missing)} credential(s) cannot be recovered (e.g. {entry.get('path')}: {why}); "
            "write the report with `pit-guard audit --format json` on this repository, or run purge without --report"
        )
    for found in findings:  # a secret written out in an edited report: only a credential, never any text
        if not _is_credential(found):
            raise FatalError(
                f"{report_file}: the secret of a {found.rule_id} finding (in {display_path(found.path)}) is not such a "
                "credential: an edited report? Run purge without --report"
            )
    # Every entry's word on a credential (a hand-merged report may hold several): it counts as dead only
    # when all of them say so.
    statuses: Dict[str, List[object]] = {}
    for item in document["findings"]:
        if isinstance(item, dict):
            statuses.setdefault(str(item.get("fingerprint")), []).append(item.get("validation"))
    from pit_guard.finding import Validation

    def told(v: object) -> bool:
        return isinstance(v, dict) and isinstance(v.get("status"), str)

    out = []
    for found in findings:
        said = statuses.get(found.fingerprint, [None])
        v = next((v for v in said if not (told(v) and v["status"] in _NOT_WORKING)), said[0])  # type: ignore[index]
        if isinstance(v, dict) and isinstance(v.get("status"), str):
            found = dataclasses.replace(found, validation=Validation(str(v["status"]), str(v.get("reason", ""))))
        out.append(found)
    return out


def _is_credential(found: Finding) -> bool:
    """The detector finds `found.secret` as this very credential, alone or in the context its rule's
    examples give it (a client secret is one only beside its variable name)."""
    from pit_guard.detection.detect import scan_bytes
    from pit_guard.detection.rules import RULES_BY_ID

    contexts = [""] + [
        "".join(f"{k}={v}\n" for k, v in ex.before) + f"{ex.key}=" for ex in RULES_BY_ID[found.rule_id].positives
    ]
    for context in contexts:
        data = (context + found.secret + "\n").encode("utf-8")
        if any(t.fingerprint == found.fingerprint for t in scan_bytes(data, ".env", keep_allowed=True)):
            return True
    return False


def audit(folder: str) -> Tuple[List[Finding], List[Unread]]:
    """Every credential in the repository's history, as `pit-guard audit` finds them (lines marked
    `pit-guard: allow` left out), and what could not be read."""
    from pit_guard.sources.history import scan_history

    result = scan_history(folder, max_file_size=NO_SIZE_LIMIT)
    return [f for f in result.findings if not f.allowed], [u for u in result.skipped if not u.chosen]


def may_still_work(findings: Sequence[Finding]) -> List[Finding]:
    """One finding per credential that is not known to be dead or expired."""
    seen: Dict[str, Finding] = {}
    for f in findings:
        dead = f.expired or (f.validation is not None and f.validation.status in _NOT_WORKING)
        if not dead:
            seen.setdefault(f.fingerprint, f)
    return list(seen.values())


def behind_remotes(where: Target) -> List[Tuple[str, str]]:
    """(local branch, remote-tracking ref) pairs where the remote has commits the branch lacks. The
    force-push sends the local branch (git-filter-repo also drops a refs/remotes/origin/X that differs
    from refs/heads/X), so those commits, fetched but not merged, would be deleted from the remote."""
    refs = git.ref_names(where.repo)
    heads = {r[len("refs/heads/") :] for r in refs if r.startswith("refs/heads/")}
    out = []
    for name, _ in git.remote_urls(where.repo):
        prefix = f"refs/remotes/{name}/"
        for r in refs:
            branch = r[len(prefix) :]
            if r.startswith(prefix) and branch in heads and not git.is_ancestor(where.repo, r, "refs/heads/" + branch):
                out.append((branch, r[len("refs/remotes/") :]))
    return out


# --- 3. the expressions file ----------------------------------------------------------------------


def _base64_cores(secret: bytes) -> List[bytes]:
    """The part of the base64 text of `secret` that does not depend on its neighbours, for each of
    the three byte alignments it can have inside a longer encoded value, in both alphabets."""
    cores = []
    n = len(secret)
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + secret + b"\0\0")
        first = -(-8 * shift // 6)  # the first character whose 6 bits all come from the secret
        last = 8 * (shift + n) // 6  # one past the last such character
        core = encoded[first:last]
        cores += [core, core.translate(bytes.maketrans(b"+/", b"-_"))]
    return cores


def forms(secret: str) -> List[bytes]:
    """Every form of `secret` the detector decodes: as written, JSON-escaped, URL-encoded, base64
    (standard and URL-safe), UTF-16. Longest first, no duplicates."""
    if secret.lower().startswith("pit-"):  # the detector reads `PIT-` and upper-case UUIDs as the same token
        variants = dict.fromkeys([secret, secret.lower(), secret.upper(), "pit-" + secret[4:].upper()])
        return sorted(dict.fromkeys(f for v in variants for f in _forms(v)), key=len, reverse=True)
    return _forms(secret)


def _forms(secret: str) -> List[bytes]:
    raw = secret.encode("utf-8")
    found = [
        raw,
        secret.replace("/", "\\/").encode(),
        urllib.parse.quote(secret, safe="").encode(),
        urllib.parse.quote(secret, safe="/").encode(),
        secret.encode("utf-16-le"),
        secret.encode("utf-16-be"),
        *_base64_cores(raw),
    ]
    unique = list(dict.fromkeys(f for f in found if len(f) >= 16))
    return sorted(unique, key=len, reverse=True)


def expressions(findings: Sequence[Finding]) -> bytes:
    """git-filter-repo --replace-text / --replace-message lines: `literal:FORM==>***REMOVED-<rule>***`
    for each form of each credential, and for a PIT a case-insensitive one (the detector reads
    `PIT-` and upper-case UUIDs as the same token)."""
    lines: Dict[bytes, None] = {}
    for f in sorted({f.fingerprint: f for f in findings}.values(), key=lambda f: (-len(f.secret), f.fingerprint)):
        replacement = f"***REMOVED-{f.rule_id}***".encode()
        for form in forms(f.secret):
            if b"\n" in form or b"\r" in form:
                continue
            lines[b"literal:" + form + b"==>" + replacement] = None
        if f.secret.lower().startswith("pit-") and "\n" not in f.secret and "\r" not in f.secret:
            lines[b"regex:(?i)" + re.escape(f.secret).encode() + b"==>" + replacement] = None
    return b"".join(line + b"\n" for line in lines)


def check_outside(path: str, where: Target) -> None:
    """The expressions file holds every secret: never inside the repository (it could be committed)."""
    full = os.path.realpath(os.path.abspath(path))
    for root in {os.path.realpath(where.folder), os.path.realpath(where.repo.git_dir)}:
        if full == root or full.startswith(root.rstrip(os.sep) + os.sep):
            raise FatalError(
                f"{path} is inside the repository: the expressions file holds the secrets and must not be "
                "committed; name a path outside it"
            )


def write_secret_file(path: str, data: bytes) -> None:
    """Write `data` readable by its owner only (0600 from the first byte), replacing a regular file
    but never following a symlink."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as e:
        raise FatalError(f"{path}: cannot write the expressions file: {e.strerror or e}") from None
    try:
        os.fchmod(fd, 0o600)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except OSError as e:
        raise FatalError(f"{path}: cannot write the expressions file: {e.strerror or e}") from None
    finally:
        os.close(fd)


# --- 4. and 5. the rewrite and its proof ------------------------------------------------------------


def filter_repo_program() -> str:
    program = git.find_filter_repo([os.path.dirname(sys.executable)])
    if program is None:
        raise FatalError(
            "git-filter-repo is not installed: `pip install 'pit-guard[purge]'` (or your system's "
            "git-filter-repo package), then run this again"
        )
    return program


def check_not_in_a_work_tree(path: str, option: str) -> None:
    """A default place beside the repository may be inside another repository's work tree (a submodule's
    superproject, a monorepo): the secrets there would be one `git add -A` from a commit."""
    holder = git.work_tree_holding(os.path.dirname(os.path.abspath(path)))
    if holder is not None:
        raise FatalError(
            f"{path} (the default place) is inside the work tree of the repository at {holder}, where it could be "
            f"committed: name a place outside every repository with {option}"
        )


def check_into(into: str, where: Target) -> None:
    if os.path.lexists(into):
        raise FatalError(f"{into} already exists: purge writes a new clone there; remove it or name another --into")
    full = os.path.realpath(into)
    for root in {os.path.realpath(where.folder), os.path.realpath(where.repo.git_dir)}:
        if full.startswith(root.rstrip(os.sep) + os.sep):
            raise FatalError(
                f"{into} is inside the repository: the clone keeps the old history and the expressions file "
                "holds the secrets, neither may be committed; name a folder outside it"
            )


def rewrite(where: Target, into: str, expressions_file: str, program: str) -> None:
    """Mirror-clone the repository into `into` and run git-filter-repo there."""
    git.local_mirror_copy(where.folder, into)
    git.filter_repo(program, into, expressions_file)


def prove(into: str) -> Tuple[List[Finding], List[Unread]]:
    """The audit of the rewritten clone: what is left, and what it could not read."""
    return audit(into)


def names_with_tokens(into: str) -> List[str]:
    """The ref names and file paths of the rewritten clone that hold a token (shown redacted): the
    audit reads contents and messages, and --replace-text rewrites only those."""
    from pit_guard.detection.detect import scan_bytes

    def holds_token(name: bytes) -> bool:  # what the detector finds in it, as it would in a file
        return bool(scan_bytes(name, "", keep_allowed=True))

    repo = git.open_repo(into)
    refs = [r for r in git.ref_names(repo) if holds_token(r.encode("utf-8", "surrogateescape"))]
    paths = [git.show_path(p) for p in sorted(git.history_paths(repo)) if holds_token(p)]
    return [f"ref name {display_path(r)}" for r in refs] + [f"file name {display_path(p)}" for p in paths]


# --- what to tell ---------------------------------------------------------------------------------


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(display_path(text))


def push_commands(where: Target, into: str) -> List[str]:
    """The force-push of the rewritten refs to each of the repository's remotes: branches and tags,
    and each branch the user's clone only has as a remote-tracking ref."""
    rewritten = git.open_repo(into)
    refs = git.ref_names(rewritten)
    heads = {r[len("refs/heads/") :] for r in refs if r.startswith("refs/heads/")}
    commands = []
    for name, url in git.remote_urls(where.repo):
        specs = ["'refs/heads/*:refs/heads/*'", "'refs/tags/*:refs/tags/*'"]
        if any(r.startswith("refs/notes/") for r in refs):  # rewritten too; a pushed note keeps the old text
            specs.append("'refs/notes/*:refs/notes/*'")
        prefix = f"refs/remotes/{name}/"
        specs += [
            _quote(f"{r}:refs/heads/{r[len(prefix) :]}")
            for r in refs
            if r.startswith(prefix) and r[len(prefix) :] not in heads
        ]
        commands.append(f"git -C {_quote(into)} push --force -- {_quote(url)} {' '.join(specs)}")
    return commands


CANNOT_REACH = (
    ("Forks", "a fork keeps the old history: ask each fork's owner to delete it (or re-fork from the purged one)."),
    (
        "Pull-request and merge-request refs",
        "refs/pull/* (GitHub) and refs/merge-requests/* (GitLab) cannot be force-pushed: ask the host's support "
        "to remove them and to run garbage collection.",
    ),
    (
        "Host caches",
        "cached commit, diff and blame views still serve the old commits by their SHA until the host removes "
        "them: ask its support, giving the old SHAs.",
    ),
    ("CI logs and artifacts", "delete the runs, logs, caches and build artifacts made from the old commits."),
    (
        "Other clones",
        "every clone (colleagues, CI runners, deploy servers, backups) still holds the secrets and would push "
        "them back: delete each one and clone again after the force-push.",
    ),
    (
        "Your own clone",
        "its reflogs, stash entries and packs still hold the secrets: replace it with a fresh clone of the "
        "purged remote.",
    ),
)


def cannot_reach() -> List[str]:
    return [f"{what}: {todo}" for what, todo in CANNOT_REACH]
