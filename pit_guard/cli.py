"""Command line: a thin click layer. Each command calls plain functions and returns an exit code.

Heavy modules are imported inside the commands that need them, so the hook path starts fast.
"""

from __future__ import annotations

import datetime
import os
import sys
from typing import Any, BinaryIO, Callable, Dict, List, Optional, Sequence, Tuple, TypeVar

import click

from pit_guard.errors import FatalError
from pit_guard.finding import EXIT_CLEAN, EXIT_ERROR, EXIT_FINDINGS, NO_SIZE_LIMIT, Finding, Unread, redact_text

FORMATS = ("text", "json", "sarif", "gitlab", "markdown")  # = report.FORMATTERS (a test checks)
# When this run started: GitLab reports carry the scan's start time.
_STARTED = datetime.datetime.now(datetime.timezone.utc)
_SIZE_UNITS = {"": 1, "K": 1024, "M": 1024**2, "G": 1024**3}


def stdin_bytes() -> Optional[BinaryIO]:
    """Standard input as bytes, or None when the process has none (closed by the caller)."""
    return sys.stdin.buffer if sys.stdin is not None else None


def parse_size(text: str) -> int:
    """`25M`, `512K`, `1G` or a plain number of bytes."""
    value = text.strip().upper().rstrip("B").rstrip("I")
    unit = value[-1:] if value[-1:] in _SIZE_UNITS else ""
    try:
        size = int(float(value[: len(value) - len(unit)]) * _SIZE_UNITS[unit])
    except (ValueError, OverflowError):
        raise click.BadParameter(f"{text!r} is not a size such as 25M, 512K or 1048576") from None
    if size <= 0:
        raise click.BadParameter(f"{text!r}: the size must be positive")
    return size


def render(
    findings: Sequence[Finding], skipped: Sequence[Unread], fmt: str, show_secrets: bool, output: Optional[str]
) -> None:
    """Write the report to --output or stdout (colour only for text on a terminal)."""
    from pit_guard import report

    # NO_COLOR (no-color.org) turns colour off even on a terminal.
    color = output is None and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    text = report.format_report(fmt, findings, skipped, show_secrets, color=color, started=_STARTED)
    if output:
        try:
            with open(output, "w", encoding="utf-8") as f:
                f.write(text)
        except OSError as e:
            raise FatalError(f"{output}: cannot write the report: {e.strerror or e}") from None
    else:
        click.echo(text, nl=False)


# With --fail-on live, only these pass: a dead or expired token opens nothing any more.
_NOT_LIVE = ("dead", "expired")


def exit_code(findings: Sequence[Finding], fail_on_expired: bool = False, fail_on: str = "any") -> int:
    failing = [f for f in findings if f.fails or (fail_on_expired and f.expired)]
    if fail_on == "live":
        # Unknown is not dead: a token that could not be checked counts as live here.
        failing = [f for f in failing if f.validation is None or f.validation.status not in _NOT_LIVE]
    return EXIT_FINDINGS if failing else EXIT_CLEAN


def run_validation(
    findings: Sequence[Finding], concurrency: int, timeout: float, total_timeout: float
) -> List[Finding]:
    """Opt-in liveness checks. Runs after suppression, so nothing suppressed is ever sent."""
    from pit_guard.validate import override_notice, validate_findings

    notice = override_notice()
    if notice:
        click.echo(notice if notice.startswith("pit-guard") else f"pit-guard: {notice}", err=True)
    if not findings:
        return []
    return validate_findings(findings, concurrency=concurrency, timeout=timeout, total_timeout=total_timeout)


def live_first(findings: Sequence[Finding]) -> List[Finding]:
    """Order validated findings by urgency: live, unknown, not-checked, then dead and expired."""
    rank = {"live": 0, "unknown": 1, "not-checked": 2, "dead": 3, "expired": 4}
    return sorted(findings, key=lambda f: rank.get(f.validation.status, 2) if f.validation else 2)


def summarize(findings: Sequence[Finding], skipped: Sequence[Unread]) -> None:
    expired = sum(1 for f in findings if f.expired)
    parts = [f"{len(findings)} finding{'s' if len(findings) != 1 else ''}"]
    statuses = [f.validation.status for f in findings if f.validation is not None]
    for status in ("live", "unknown", "not-checked", "dead", "expired"):
        if statuses.count(status):
            parts.append(f"{statuses.count(status)} {status}")
    if expired:
        parts.append(f"{expired} expired (not failing)")
    unread = sum(1 for u in skipped if not u.chosen)
    if unread:
        parts.append(f"{unread} not scanned")
    if len(skipped) > unread:
        parts.append(f"{len(skipped) - unread} skipped (not failing)")
    click.echo("pit-guard: " + ", ".join(parts), err=True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="pit-guard", prog_name="pit-guard")
def cli() -> None:
    """Find leaked GoHighLevel credentials. Exit codes: 0 clean, 1 findings, 2 usage or environment error."""


validate_options = [
    click.option(
        "--validate",
        is_flag=True,
        help="Ask GoHighLevel's API whether each token is still live (sends tokens to GoHighLevel only).",
    ),
    click.option(
        "--validate-concurrency",
        type=click.IntRange(1, 32),
        default=4,
        show_default=True,
        help="Parallel validation requests.",
    ),
    click.option(
        "--validate-timeout",
        type=click.FloatRange(0.1, 120),
        default=10.0,
        show_default=True,
        help="Seconds per validation request.",
    ),
    click.option(
        "--validate-total-timeout",
        type=click.FloatRange(1, 3600),
        default=120.0,
        show_default=True,
        help="Seconds for all validation; tokens left unchecked then are 'unknown'.",
    ),
    click.option(
        "--fail-on",
        type=click.Choice(["any", "live"]),
        default="any",
        show_default=True,
        help="'live': fail only on tokens that may still work (live, unknown, not-checked).",
    ),
]


_F = TypeVar("_F", bound=Callable[..., Any])


def report_options(f: _F) -> _F:
    """Options every scanning command shares (scan, audit, ci, hooks)."""
    options = [
        click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True),
        click.option(
            "--output", "-o", type=click.Path(dir_okay=False), help="Write the report to FILE instead of stdout."
        ),
        click.option("--show-secrets", is_flag=True, help="Print secrets in full (default: redacted)."),
        click.option("--fail-on-expired", is_flag=True, help="Expired OAuth tokens fail the run too."),
        click.option(
            "--baseline",
            "baseline_file",
            type=click.Path(dir_okay=False),
            help="Report only findings not accepted in FILE (written by `pit-guard baseline`).",
        ),
        click.option(
            "--config",
            "config_file",
            type=click.Path(dir_okay=False),
            help="Settings file to use instead of .pit-guard.toml / pyproject.toml found from here.",
        ),
    ] + validate_options
    for option in reversed(options):
        f = option(f)
    return f


def suppress(
    findings: Sequence[Finding],
    skipped: Sequence[Unread],
    config_file: Optional[str],
    baseline_file: Optional[str],
) -> Tuple[List[Finding], List[Unread]]:
    """Config (disabled rules, excluded paths, allowed fingerprints), then the baseline: before
    validation, so nothing suppressed is ever sent anywhere."""
    from pit_guard.config import apply_config, load_config

    findings = [f for f in findings if not f.allowed]  # a `pit-guard: allow` line
    kept, skipped = apply_config(findings, skipped, load_config(config_file))
    if baseline_file:
        from pit_guard.baseline import filter_baselined

        kept = filter_baselined(kept, baseline_file)
    return kept, skipped


def max_file_size_setting(given: int, config_file: Optional[str]) -> int:
    """--max-file-size when given on the command line, else the config's, else the default."""
    from click.core import ParameterSource

    from pit_guard.config import load_config

    source = click.get_current_context().get_parameter_source("max_file_size")
    configured = load_config(config_file).max_file_size
    if source in (ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP, None) and configured is not None:
        return configured
    return given


def displayable(
    findings: Sequence[Finding], skipped: Sequence[Unread], show_secrets: bool
) -> Tuple[List[Finding], List[Unread]]:
    """Paths as every output shows them: printable, and with a token in a file name redacted.

    Done after suppression (exclude globs and baselines match the real paths)."""
    import dataclasses

    from pit_guard.finding import display_path

    shown = [dataclasses.replace(f, path=display_path(f.path, show_secrets)) for f in findings]
    unread = [
        dataclasses.replace(u, path=display_path(u.path, show_secrets), reason=display_path(u.reason, show_secrets))
        for u in skipped
    ]
    return shown, unread


def finish(
    findings: Sequence[Finding],
    skipped: Sequence[Unread],
    *,
    fmt: str,
    output: Optional[str],
    show_secrets: bool,
    fail_on_expired: bool,
    baseline_file: Optional[str] = None,
    config_file: Optional[str] = None,
    validate: bool = False,
    validate_concurrency: int = 4,
    validate_timeout: float = 10.0,
    validate_total_timeout: float = 120.0,
    fail_on: str = "any",
    **_: object,
) -> int:
    """The one pipeline every scanning command ends with: notices, report, summary, exit code.

    Filtering (config, baseline) and validation slot in here so that every mode gets them.
    """
    findings, skipped = suppress(findings, skipped, config_file, baseline_file)
    findings, skipped = displayable(findings, skipped, show_secrets)
    tell_unread(skipped)
    if validate:
        findings = live_first(run_validation(findings, validate_concurrency, validate_timeout, validate_total_timeout))
    render(findings, skipped, fmt, show_secrets, output)
    summarize(findings, skipped)
    return incomplete_exit(skipped) or exit_code(findings, fail_on_expired, fail_on)


def tell_unread(skipped: Sequence[Unread]) -> None:
    for u in skipped:
        click.echo(f"pit-guard: {'skipped' if u.chosen else 'not scanned'} {u.path}: {u.reason}", err=True)


def incomplete_exit(skipped: Sequence[Unread]) -> int:
    """Fail closed: anything not read that the user did not choose to leave out makes the run exit 2
    (the findings above are still reported), because a clean result it cannot vouch for is not clean."""
    unread = sum(1 for u in skipped if not u.chosen)
    if not unread:
        return 0
    click.echo(
        f"pit-guard: {unread} input{'s' if unread != 1 else ''} could not be read (listed above): "
        "the scan is incomplete, exit 2",
        err=True,
    )
    return EXIT_ERROR


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path())
@report_options
@click.option(
    "--max-file-size",
    default=None,
    callback=lambda c, p, v: parse_size(v) if v is not None else NO_SIZE_LIMIT,
    help="Skip (with a notice) files larger than this, e.g. 25M (default: no limit; large files are streamed).",
)
@click.option("--staged", is_flag=True, help="Scan what `git commit` would add (the index), not files on disk.")
@click.option("--since", metavar="REF", help="Scan the commits after REF up to HEAD (REF..HEAD).")
@click.option("--range", "rng", metavar="A..B", help="Scan the commits of a range (git rev-list syntax).")
def scan(
    paths: Sequence[str],
    max_file_size: int,
    staged: bool = False,
    since: Optional[str] = None,
    rng: Optional[str] = None,
    **options: object,
) -> int:
    """Scan files and folders (recursively, skipping .git); `-` reads stdin.

    With --staged, --since or --range, scan git changes instead (see `pit-guard audit` for history).
    """
    from pit_guard.scan import scan_paths

    max_file_size = max_file_size_setting(max_file_size, options.get("config_file"))  # type: ignore[arg-type]
    if staged or since or rng:
        from pit_guard.git_cli import scan_git

        return scan_git(paths, staged, since, rng, max_file_size, **options)
    result = scan_paths(list(paths), max_file_size=max_file_size, stdin=stdin_bytes())
    return finish(result.findings, result.skipped, **options)  # type: ignore[arg-type]


@cli.command()
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
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    help="Settings file to use instead of .pit-guard.toml / pyproject.toml found from here.",
)
@click.option(
    "--max-file-size",
    default=None,
    callback=lambda c, p, v: parse_size(v) if v is not None else NO_SIZE_LIMIT,
    help="Skip (with a notice) files larger than this, e.g. 25M (default: no limit; large files are streamed).",
)
@click.option(
    "--history",
    is_flag=True,
    help="Also accept every credential in the git history of the current repository (as `audit` finds them).",
)
def baseline(
    paths: Sequence[str], output: str, merge: bool, config_file: Optional[str], max_file_size: int, history: bool
) -> int:
    """Accept what PATHS hold today: write their findings' fingerprints to a baseline file.

    Later scans given `--baseline FILE` report only findings not in it.
    """
    from pit_guard.baseline import write_baseline
    from pit_guard.scan import scan_paths

    max_file_size = max_file_size_setting(max_file_size, config_file)
    result = scan_paths(list(paths), max_file_size=max_file_size, stdin=stdin_bytes())
    found, skipped = list(result.findings), list(result.skipped)
    if history:
        from pit_guard.audit import audit

        past = audit(".", max_file_size=max_file_size)
        for notice in past.notices:
            click.echo(notice if notice.startswith("pit-guard") else f"pit-guard: {notice}", err=True)
        found += past.findings
        skipped += past.skipped
    findings, skipped = suppress(found, skipped, config_file, None)
    findings, skipped = displayable(findings, skipped, False)  # a baseline never holds a token
    tell_unread(skipped)
    count, changed = write_baseline(output, findings, merge=merge)
    state = "written" if changed else "unchanged"
    click.echo(f"pit-guard: baseline {output}: {count} entr{'ies' if count != 1 else 'y'} ({state})", err=True)
    return incomplete_exit(skipped) or EXIT_CLEAN


@cli.command("validate")
@click.option(
    "--report",
    "report_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Re-check the findings of a pit-guard JSON report (redacted secrets are re-read from their file or commit).",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write the report to FILE instead of stdout.")
@click.option("--show-secrets", is_flag=True, help="Print secrets in full (default: redacted).")
@click.option("--validate-concurrency", type=click.IntRange(1, 32), default=4, show_default=True)
@click.option("--validate-timeout", type=click.FloatRange(0.1, 120), default=10.0, show_default=True)
@click.option("--validate-total-timeout", type=click.FloatRange(1, 3600), default=120.0, show_default=True)
def validate_command(
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
    if report_file:
        from pit_guard.finding import display_path
        from pit_guard.validate_report import findings_from_report

        try:
            with open(report_file, encoding="utf-8") as f:
                document = json.load(f)
        except (OSError, ValueError) as e:
            raise FatalError(f"{report_file}: not a readable pit-guard JSON report ({e.__class__.__name__})") from None
        findings, missing = findings_from_report(document, root=".", name=report_file)
        for entry, reason in missing:
            where = display_path(f"{entry.get('path')}:{entry.get('line')}")
            click.echo(f"pit-guard: not checked: {where}: {reason}", err=True)
    else:
        from pit_guard.detect import scan_bytes

        if sys.stdin is None:
            raise FatalError("no standard input to read a token from (pipe it in, or run in a terminal)")
        if sys.stdin.isatty():
            import getpass

            text = getpass.getpass("GoHighLevel token (input hidden): ")
        else:
            text = sys.stdin.read()
        findings = scan_bytes(text.encode("utf-8", "surrogateescape"), "<stdin>")
        if not findings:
            raise FatalError("no GoHighLevel credential found in the input (paste the whole token)")
    checked = live_first(run_validation(findings, validate_concurrency, validate_timeout, validate_total_timeout))
    checked, _ = displayable(checked, [], show_secrets)
    render(checked, [], fmt, show_secrets, output)
    summarize(checked, [])
    if report_file and missing:
        return EXIT_FINDINGS  # a credential that could not be checked may still work
    return exit_code(checked, fail_on="live")


# audit, ci and hook live in git_cli.py (the git modes), which adds them to `cli` when imported;
# they end with finish() too. Imported last: git_cli uses report_options and finish from here.
import pit_guard.git_cli  # noqa: E402,F401


def main(argv: Optional[List[str]] = None) -> int:
    try:
        code = cli.main(args=argv, prog_name="pit-guard", standalone_mode=False)
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.exceptions.Abort:
        click.echo("pit-guard: aborted", err=True)
        return EXIT_ERROR
    except click.ClickException as e:
        setattr(e, "message", redact_text(e.message))  # noqa: B010 - click marks it final; the redaction must win
        e.show()
        return EXIT_ERROR
    except FatalError as e:
        # Messages name paths and values the user gave: a token among them is redacted.
        click.echo(f"pit-guard: error: {redact_text(str(e))}", err=True)
        return EXIT_ERROR
    except Exception as e:  # a bug must not look like a clean run, nor print a token in a traceback
        if os.environ.get("PIT_GUARD_DEBUG"):
            raise
        click.echo(
            f"pit-guard: internal error: {type(e).__name__}: {redact_text(str(e))[:300]} "
            "(set PIT_GUARD_DEBUG=1 for the traceback, and please report it)",
            err=True,
        )
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    return code if isinstance(code, int) else EXIT_CLEAN


if __name__ == "__main__":
    sys.exit(main())
