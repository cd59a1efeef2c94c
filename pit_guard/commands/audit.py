"""`pit-guard audit`: every blob in a repository's history, once."""

from __future__ import annotations

import os
import sys

import click

from pit_guard import pipeline
from pit_guard.commands.options import Run, report_options


@click.command()
@click.argument("repo", required=False, default=".", type=click.Path())
@report_options
@click.option(
    "--include-unreachable",
    is_flag=True,
    help="Also scan objects no ref reaches (amended, reset or dropped commits, dangling blobs).",
)
def audit(repo: str, include_unreachable: bool, run: Run) -> int:
    """Scan every blob in REPO's history once (all branches, tags, remote-tracking refs, stash).

    Each finding tells the commit and path that introduced it, its author and date, how many
    commits carry it, whether HEAD still has it, and which branches contain it.
    """
    from pit_guard.sources import git
    from pit_guard.sources.history import scan_history

    if click.get_current_context().get_parameter_source("repo") == click.core.ParameterSource.COMMANDLINE:
        git.use_named_repository()  # `audit PATH` reads PATH's repository, whatever GIT_DIR says
    progress = sys.stderr.isatty() and not os.environ.get("CI")
    result = scan_history(
        repo,
        include_unreachable=include_unreachable,
        max_file_size=run.max_file_size,
        progress=progress,
        archives=run.archives,
    )
    pipeline.tell_notes(result.notices)
    return pipeline.finish(result.findings, result.skipped, run.options)
