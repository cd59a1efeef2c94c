"""`pit-guard baseline`: accept today's findings."""

from __future__ import annotations

from typing import Optional, Sequence

import click

from pit_guard import pipeline
from pit_guard.commands.options import config_options, max_file_size_option, settings, size_limit, stdin_bytes
from pit_guard.finding import EXIT_CLEAN, notice


@click.command()
@click.argument("paths", nargs=-1, type=click.Path())
@click.option(
    "--output",
    "-o",
    default=".pit-guard-baseline.json",
    show_default=True,
    type=click.Path(dir_okay=False),
    help="Baseline file to write.",
)
@click.option("--merge", is_flag=True, help="Keep entries already in the file that this scan does not find.")
@config_options
@max_file_size_option
@click.option(
    "--history",
    is_flag=True,
    help="Also accept every credential in the git history of the current repository (as `audit` finds them).",
)
def baseline(
    paths: Sequence[str],
    output: str,
    merge: bool,
    config_file: Optional[str],
    no_config: bool,
    max_file_size: Optional[int],
    history: bool,
) -> int:
    """Accept what PATHS hold today: write their findings' fingerprints to a baseline file.

    Later scans given `--baseline FILE` report only findings not in it.
    """
    from pit_guard.reporting.baseline import write_baseline
    from pit_guard.sources.files import scan_paths

    config = settings(config_file, no_config)
    pipeline.refuse_overwrite(output, [("config file", config.source)])
    limit, from_config = size_limit(max_file_size, config)
    result = scan_paths(list(paths), max_file_size=limit, stdin=stdin_bytes())
    found, skipped = list(result.findings), list(result.skipped)
    if history:
        from pit_guard.sources.history import scan_history

        past = scan_history(".", max_file_size=limit)
        pipeline.tell_notes(past.notices)
        found += past.findings
        skipped += past.skipped
    findings, skipped, suppressed = pipeline.suppress(found, skipped, config, None, from_config)
    findings, skipped = pipeline.displayable(findings, skipped, False)  # a baseline never holds a token
    pipeline.tell_unread(skipped)
    pipeline.tell_suppressed(suppressed)
    count, changed = write_baseline(output, findings, merge=merge)
    state = "written" if changed else "unchanged"
    notice(f"baseline {output}: {count} entr{'ies' if count != 1 else 'y'} ({state})")
    return pipeline.incomplete_exit(skipped) or EXIT_CLEAN
