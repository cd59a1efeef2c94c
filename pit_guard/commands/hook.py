"""`pit-guard hook pre-commit` and `pit-guard hook pre-push`: entry points for git hooks."""

from __future__ import annotations

from typing import Optional, Sequence

import click

from pit_guard import pipeline
from pit_guard.commands import precommit
from pit_guard.commands.options import Run, report_options


@click.group()
def hook() -> None:
    """Entry points for git hooks and the pre-commit framework."""


@hook.command("pre-commit")
@click.argument("files", nargs=-1, type=click.Path())
@report_options
def pre_commit(files: Sequence[str], run: Run) -> int:
    """Scan what the commit adds (staged versions only; FILES as pre-commit passes them)."""
    return precommit.pre_commit(files, run)  # also run without click: cli.main's fast path


@hook.command("pre-push")
@click.argument("remote", required=False)
@click.argument("url", required=False)
@report_options
def pre_push(remote: Optional[str], url: Optional[str], run: Run) -> int:
    """Scan the commits a push sends (pre-commit's PRE_COMMIT_* variables, or git's stdin)."""
    from pit_guard.sources import changes

    result = changes.scan_push(".", max_size=run.max_file_size, archives=run.archives)
    pipeline.tell_notes(result.notices)
    return pipeline.finish(result.findings, result.skipped, run.options)
