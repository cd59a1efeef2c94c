"""The git commands (audit, ci, hook pre-commit / pre-push) and `scan --staged/--since/--range`.

Each ends with cli.finish(), like every scanning command. Kept apart from cli.py so the git
modes are one import away; registered by cli.py.
"""

from __future__ import annotations

import os
import sys
from typing import Optional, Sequence

import click

from pit_guard import cli as _cli
from pit_guard.finding import NO_SIZE_LIMIT


def _notices(notices: Sequence[str]) -> None:
    for notice in notices:
        _cli.notice(f"note: {notice}")  # the one notice path: tokens redacted, control characters escaped


def _size_option(f: _cli._F) -> _cli._F:
    return click.option(
        "--max-file-size",
        default=None,
        callback=lambda c, p, v: _cli.parse_size(v) if v is not None else NO_SIZE_LIMIT,
        help="Skip (with a notice) blobs larger than this, e.g. 25M (default: no limit).",
    )(f)


def scan_git(
    paths: Sequence[str], staged: bool, since: Optional[str], rng: Optional[str], max_file_size: int, **options: object
) -> int:
    """`scan --staged [FILES]`, `scan --since REF`, `scan --range A..B` (called from cli.scan)."""
    from pit_guard.sources import changes as hooks

    if sum(bool(x) for x in (staged, since, rng)) > 1:
        raise click.UsageError("use only one of --staged, --since and --range")
    if staged:
        result = hooks.scan_staged(".", list(paths) or None, max_size=max_file_size)
    else:
        if paths:
            raise click.UsageError("--since and --range scan commits, not paths: drop the paths")
        hooks.require_revs(".", since or rng or "")
        revs = [f"{since}..HEAD"] if since else [rng or ""]
        result = hooks.scan_range(".", revs, max_size=max_file_size)
    _notices(result.notices)
    return _cli.finish(result.findings, result.skipped, **options)  # type: ignore[arg-type]


@click.command()
@click.argument("repo", required=False, default=".", type=click.Path())
@_cli.report_options
@click.option(
    "--include-unreachable",
    is_flag=True,
    help="Also scan objects no ref reaches (amended, reset or dropped commits, dangling blobs).",
)
@_size_option
def audit(repo: str, include_unreachable: bool, max_file_size: int, **options: object) -> int:
    """Scan every blob in REPO's history once (all branches, tags, remote-tracking refs, stash).

    Each finding tells the commit and path that introduced it, its author and date, how many
    commits carry it, whether HEAD still has it, and which branches contain it.
    """
    from pit_guard.sources.history import audit as run_audit

    max_file_size = _cli.max_file_size_setting(max_file_size, options.get("config_file"))  # type: ignore[arg-type]
    progress = sys.stderr.isatty() and not os.environ.get("CI")
    result = run_audit(repo, include_unreachable=include_unreachable, max_file_size=max_file_size, progress=progress)
    _notices(result.notices)
    return _cli.finish(result.findings, result.skipped, **options)  # type: ignore[arg-type]


@click.command()
@_cli.report_options
@_size_option
def ci(max_file_size: int, **options: object) -> int:
    """Scan what this CI run's pull/merge request or push adds (GitHub Actions, GitLab CI)."""
    from pit_guard.sources import changes as hooks
    from pit_guard.sources.ci_env import ci_revs

    max_file_size = _cli.max_file_size_setting(max_file_size, options.get("config_file"))  # type: ignore[arg-type]
    described, revs = ci_revs(".", os.environ)
    _cli.notice(f"scanning {described}")
    result = hooks.scan_range(".", revs, max_size=max_file_size)
    _notices(result.notices)
    return _cli.finish(result.findings, result.skipped, **options)  # type: ignore[arg-type]


@click.group()
def hook() -> None:
    """Entry points for git hooks and the pre-commit framework."""


@hook.command("pre-commit")
@click.argument("files", nargs=-1, type=click.Path())
@_cli.report_options
@_size_option
def pre_commit(files: Sequence[str], max_file_size: int, **options: object) -> int:
    """Scan what the commit adds (staged versions only; FILES as pre-commit passes them)."""
    from pit_guard.sources import changes as hooks

    max_file_size = _cli.max_file_size_setting(max_file_size, options.get("config_file"))  # type: ignore[arg-type]
    result = hooks.scan_staged(".", list(files) or None, max_size=max_file_size)
    _notices(result.notices)
    return _cli.finish(result.findings, result.skipped, **options)  # type: ignore[arg-type]


@hook.command("pre-push")
@click.argument("remote", required=False)
@click.argument("url", required=False)
@_cli.report_options
@_size_option
def pre_push(remote: Optional[str], url: Optional[str], max_file_size: int, **options: object) -> int:
    """Scan the commits a push sends (pre-commit's PRE_COMMIT_* variables, or git's stdin)."""
    from pit_guard.sources import changes as hooks

    max_file_size = _cli.max_file_size_setting(max_file_size, options.get("config_file"))  # type: ignore[arg-type]
    result = hooks.scan_push(".", max_size=max_file_size)
    _notices(result.notices)
    return _cli.finish(result.findings, result.skipped, **options)  # type: ignore[arg-type]


_group: click.Group = _cli.cli  # type: ignore[has-type]  # (circular import: cli imports this last)
for _command in (audit, ci, hook):
    _group.add_command(_command)
