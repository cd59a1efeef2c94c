"""`pit-guard validate`: is a token still live? (from a report, stdin or a prompt)"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import click

from pit_guard import pipeline
from pit_guard.commands.options import output_options, token_findings, validation_options
from pit_guard.errors import FatalError
from pit_guard.finding import EXIT_FINDINGS, notice


@click.command("validate")
@click.option(
    "--report",
    "report_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Re-check the findings of a pit-guard JSON report (redacted secrets are re-read from their file or commit).",
)
@output_options
@validation_options
def validate(
    report_file: Optional[str],
    fmt: str,
    output: Optional[str],
    show_secrets: bool,
    validate_concurrency: int,
    validate_timeout: float,
    validate_total_timeout: float,
) -> int:
    """Is a token still live? Reads findings from --report, or one token from stdin or a prompt.

    A token is never taken from the command line (it would land in shell history). Exit 1 when
    any token may still work (live, unknown or not checked), 0 when all are dead or expired.
    """
    import json

    missing: List[Tuple[Dict[str, Any], str]] = []
    pipeline.refuse_overwrite(output, [("report", report_file)])
    if report_file:
        from pit_guard.validation.from_report import findings_from_report

        try:
            with open(report_file, encoding="utf-8") as f:
                document = json.load(f)
        except (OSError, ValueError, RecursionError) as e:
            raise FatalError(f"{report_file}: not a readable pit-guard JSON report ({e.__class__.__name__})") from None
        findings, missing = findings_from_report(document, root=".", name=report_file)
        for entry, reason in missing:
            line = entry.get("line")
            where = f"{entry.get('path')}:{line}" if isinstance(line, int) else f"{entry.get('path')}"
            notice(f"not checked: {where}: {reason}")
    else:
        findings = token_findings()
    checked = pipeline.live_first(
        pipeline.run_validation(findings, validate_concurrency, validate_timeout, validate_total_timeout)
    )
    checked, _ = pipeline.displayable(checked, [], show_secrets)
    pipeline.render(checked, [], fmt, show_secrets, output)
    pipeline.summarize(checked, [])
    if report_file and missing:
        return EXIT_FINDINGS  # a credential that could not be checked may still work
    return pipeline.exit_code(checked, fail_on="live")
