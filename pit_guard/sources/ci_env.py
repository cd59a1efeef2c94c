"""Work out which commits a CI run should scan, from GitHub Actions or GitLab CI variables.

Pull/merge requests: base..head. Pushes: before..after; a new branch (before all zeros):
whatever the default branch does not have. Anything else is an error that says what to do.
"""

from __future__ import annotations

import json
from typing import Dict, List, Mapping, Optional, Tuple

from pit_guard.errors import FatalError
from pit_guard.sources import git

_HELP = "use `pit-guard scan --since REF` or `pit-guard scan --range A..B` instead"


def _zero(sha: Optional[str]) -> bool:
    return not sha or git.is_null_sha(sha)


def _github(env: Mapping[str, str]) -> Tuple[str, str]:
    """(base, head) for GitHub Actions, from the event payload (the env alone lacks the shas)."""
    event: Dict[str, object] = {}
    path = env.get("GITHUB_EVENT_PATH")
    if path:
        from pit_guard.small_files import read_small_file

        try:
            loaded = json.loads(read_small_file(path).decode("utf-8"))
            event = loaded if isinstance(loaded, dict) else {}
        except (OSError, ValueError, RecursionError) as e:
            raise FatalError(f"cannot read the GitHub event file {path}: {e}") from None
    name = env.get("GITHUB_EVENT_NAME", "")
    pr = event.get("pull_request")
    if isinstance(pr, dict):
        base = str((pr.get("base") or {}).get("sha", ""))
        head = str((pr.get("head") or {}).get("sha", ""))
        if base and head:
            return base, head
    if name == "push":
        before, after = str(event.get("before", "")), str(event.get("after", "") or env.get("GITHUB_SHA", ""))
        if not _zero(before) and after:
            return before, after
        repo = event.get("repository")
        default = str(repo.get("default_branch", "")) if isinstance(repo, dict) else ""
        if default and after and str(event.get("ref", "")) == f"refs/heads/{default}":
            return "", after  # the default branch's first push: every commit in it is new
        if default and after:
            return f"origin/{default}", after
    if env.get("GITHUB_BASE_REF"):  # pull_request events without a readable payload
        return f"origin/{env['GITHUB_BASE_REF']}", env.get("GITHUB_SHA", "HEAD")
    raise FatalError(f"GitHub Actions event {name or '(unknown)'!r} has no commit range to scan; {_HELP}")


def _gitlab(env: Mapping[str, str]) -> Tuple[str, str]:
    head = env.get("CI_COMMIT_SHA", "HEAD")
    base = env.get("CI_MERGE_REQUEST_DIFF_BASE_SHA")
    if base:
        return base, head
    before = env.get("CI_COMMIT_BEFORE_SHA")
    if not _zero(before):
        return str(before), head
    default = env.get("CI_DEFAULT_BRANCH")
    if default and env.get("CI_COMMIT_BRANCH") != default:
        return f"origin/{default}", head
    if default and env.get("CI_COMMIT_BRANCH") == default and before is not None:
        return "", head  # the default branch's first push (before is all zeros): all of it is new
    raise FatalError(f"GitLab CI gives no earlier commit for this pipeline (CI_COMMIT_BEFORE_SHA is empty); {_HELP}")


def ci_range(env: Mapping[str, str]) -> Tuple[str, str, str]:
    """(provider, base, head) for this CI run, or FatalError saying why there is none."""
    if env.get("GITHUB_ACTIONS") == "true":
        return ("GitHub Actions",) + _github(env)
    if env.get("GITLAB_CI") == "true":
        return ("GitLab CI",) + _gitlab(env)
    raise FatalError(f"not running in GitHub Actions or GitLab CI (no GITHUB_ACTIONS/GITLAB_CI variable); {_HELP}")


def ci_revs(path: str, env: Mapping[str, str]) -> Tuple[str, List[str]]:
    """A description and the rev-list arguments for this CI run; checks both ends exist here."""
    provider, base, head = ci_range(env)
    repo = git.open_repo(path)
    for rev in filter(None, (base, head)):
        if git.resolve(repo, rev) is None:
            hint = (
                " (this is a shallow clone: fetch full history, e.g. actions/checkout `fetch-depth: 0` or GIT_DEPTH: 0)"
                if repo.shallow
                else " (fetch it first, e.g. `git fetch origin`)"
            )
            raise FatalError(f"{provider}: commit {rev} is not in this clone{hint}")
    if not base:
        return f"{provider}: every commit of {head} (first push of the default branch)", [head]
    return f"{provider}: {base}..{head}", [head, "--not", base]
