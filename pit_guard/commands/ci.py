"""`pit-guard ci`: what this CI run's pull/merge request or push adds."""

from __future__ import annotations

import os

import click

from pit_guard import pipeline
from pit_guard.commands.options import Run, report_options
from pit_guard.finding import notice


@click.command()
@report_options
def ci(run: Run) -> int:
    """Scan what this CI run's pull/merge request or push adds (GitHub Actions, GitLab CI)."""
    from pit_guard.sources import changes
    from pit_guard.sources.ci_env import ci_revs

    described, revs = ci_revs(".", os.environ)
    notice(f"scanning {described}")
    result = changes.scan_range(".", revs, max_size=run.max_file_size, archives=run.archives)
    pipeline.tell_notes(result.notices)
    return pipeline.finish(result.findings, result.skipped, run.options)
