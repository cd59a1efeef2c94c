"""`pit-guard merge REPORT.json ...`: shard reports joined into one report, in any format."""

from __future__ import annotations

from typing import Optional, Tuple

import click

from pit_guard import pipeline
from pit_guard.commands.options import config_options, output_options, settings, validation_options


@click.command()
@click.argument("reports", nargs=-1, required=True, type=click.Path(dir_okay=False))
@output_options
@click.option("--fail-on-expired", is_flag=True, help="Expired OAuth tokens fail the run too.")
@click.option(
    "--validate",
    is_flag=True,
    help="Ask GoHighLevel's API whether each credential is live: each secret is read again from its "
    "repository (the clone cache), once per credential.",
)
@validation_options
@click.option("--fail-on", type=click.Choice(["any", "live"]), default="any", show_default=True)
@click.option("--clone-dir", type=click.Path(file_okay=False), help="Clone cache (--validate, --show-secrets).")
@click.option(
    "--baseline",
    "baseline_file",
    type=click.Path(dir_okay=False),
    help="Report only findings not accepted in FILE (on top of what the shards' own settings suppressed).",
)
@config_options
def merge(
    reports: Tuple[str, ...],
    fmt: str,
    output: Optional[str],
    show_secrets: bool,
    fail_on_expired: bool,
    validate: bool,
    validate_concurrency: int,
    validate_timeout: float,
    validate_total_timeout: float,
    fail_on: str,
    clone_dir: Optional[str],
    baseline_file: Optional[str],
    config_file: Optional[str],
    no_config: bool,
) -> int:
    """Join the JSON reports of `audit --shard I/N` runs (redacted is enough) into the report a
    single run writes, byte for byte; exit code as that run's (0, 1, or 2 when anything was unread)."""
    from pit_guard.errors import FatalError
    from pit_guard.fleet import clones
    from pit_guard.fleet import merge as merging
    from pit_guard.small_files import read_small_file

    parsed = []
    for path in reports:
        try:
            text = read_small_file(path).decode("utf-8")
        except (OSError, UnicodeDecodeError) as e:
            raise FatalError(f"{path}: cannot read the shard report: {getattr(e, 'strerror', None) or e}") from None
        parsed.append(merging.read_report(path, text))
    joined = merging.merge(parsed)
    findings = joined.findings
    if validate or show_secrets:
        findings, notes = merging.with_secrets(findings, clone_dir or clones.default_clone_dir())
        pipeline.tell_notes(notes)
    options = pipeline.Options(
        config=settings(config_file, no_config),
        baseline_file=baseline_file,
        fmt=fmt,
        output=output,
        show_secrets=show_secrets,
        fail_on_expired=fail_on_expired,
        validate=validate,
        validate_concurrency=validate_concurrency,
        validate_timeout=validate_timeout,
        validate_total_timeout=validate_total_timeout,
        fail_on=fail_on,
    )
    pipeline.refuse_overwrite(output, [(f"shard report {p}", p) for p in reports])
    return pipeline.finish(findings, joined.skipped, options, earlier=joined.suppressed)
