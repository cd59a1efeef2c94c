"""`pit-guard reach`: what one token can reach (from a hidden prompt or stdin, never the command line)."""

from __future__ import annotations

import dataclasses
import re
from typing import Optional

import click

from pit_guard import pipeline
from pit_guard.commands.options import output_options, token_findings, validation_options


def _location(context: click.Context, parameter: click.Parameter, value: Optional[str]) -> Optional[str]:
    if value is not None and not re.fullmatch(r"[A-Za-z0-9]{20}", value):
        raise click.BadParameter("a sub-account (location) id is 20 letters and digits")
    return value


@click.command("reach")
@click.option(
    "--location-id",
    callback=_location,
    help="The sub-account id a Private Integration token belongs to, if known (one request confirms it).",
)
@output_options
@validation_options
def reach(
    location_id: Optional[str],
    fmt: str,
    output: Optional[str],
    show_secrets: bool,
    validate_concurrency: int,
    validate_timeout: float,
    validate_total_timeout: float,
) -> int:
    """What can a live token reach? Reads one token (or a file's text holding it) from stdin or a
    hidden prompt: checks it is live, then asks GoHighLevel which agency or sub-account it opens,
    with at most 5 read-only requests (see docs/reach.md).

    A token is never taken from the command line (it would land in shell history). A sub-account id
    written beside a PIT in the input (`GHL_LOCATION_ID=…`) is used like --location-id. Exit 1 when
    the token may still work (live, unknown or not checked), 0 when it is dead or expired.
    """
    findings = token_findings()
    if location_id:
        findings = [
            dataclasses.replace(f, location_id=location_id) if f.rule_id == "ghl-private-integration-token" else f
            for f in findings
        ]
    checked = pipeline.live_first(
        pipeline.run_validation(findings, validate_concurrency, validate_timeout, validate_total_timeout)
    )
    checked, _ = pipeline.displayable(checked, [], show_secrets)
    pipeline.render(checked, [], fmt, show_secrets, output)
    pipeline.summarize(checked, [])
    return pipeline.exit_code(checked, fail_on="live")
