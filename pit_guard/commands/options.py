"""Click options the commands share, each declared once, and what a command does with them first:
load the settings once, resolve --max-file-size, refuse an --output that is one of the run's inputs."""

from __future__ import annotations

import functools
import sys
from typing import Any, BinaryIO, Callable, List, Optional, TypeVar

import click

from pit_guard.archives.limits import Limits
from pit_guard.commands.precommit import Run, resolve, size_limit
from pit_guard.config import Config, load_config, parse_size
from pit_guard.errors import FatalError
from pit_guard.finding import Finding
from pit_guard.pipeline import FORMATS

__all__ = ["Run", "report_options", "settings", "size_limit", "stdin_bytes"]

_F = TypeVar("_F", bound=Callable[..., Any])


def stdin_bytes() -> Optional[BinaryIO]:
    """Standard input as bytes, or None when the process has none (closed by the caller)."""
    return sys.stdin.buffer if sys.stdin is not None else None


def _size(context: click.Context, parameter: click.Parameter, value: Optional[str]) -> Optional[int]:
    if value is None:
        return None
    try:
        return parse_size(value)
    except ValueError as e:
        raise click.BadParameter(str(e)) from None


def max_file_size_option(f: _F) -> _F:
    """--max-file-size: None when not given (then the config's, else no limit)."""
    return click.option(
        "--max-file-size",
        default=None,
        callback=_size,
        help="Skip (with a notice) files and blobs larger than this, e.g. 25M "
        "(default: no limit; large files are streamed).",
    )(f)


def archive_limits(depth: Optional[int], total: Optional[int], ratio: Optional[int], entries: Optional[int]) -> Limits:
    """The archive limits in force: each one given on the command line is the user's choice (hitting
    it is told, not failing); the others are the defaults (hitting one fails the run)."""
    given = {"depth": depth, "bytes": total, "ratio": ratio, "entries": entries}
    default = Limits()
    return Limits(
        depth=default.depth if depth is None else depth,
        total_bytes=default.total_bytes if total is None else total,
        ratio=default.ratio if ratio is None else ratio,
        entries=default.entries if entries is None else entries,
        chosen=frozenset(name for name, value in given.items() if value is not None),
    )


def archive_options(f: _F) -> _F:
    """--max-archive-depth, --max-archive-bytes, --max-archive-ratio, --max-archive-entries."""
    default = Limits()
    options = [
        click.option(
            "--max-archive-depth",
            type=click.IntRange(0, 100),
            default=None,
            help=f"Open archives nested this deep (default {default.depth}; 0: read archives as plain bytes).",
        ),
        click.option(
            "--max-archive-bytes",
            default=None,
            callback=_size,
            help="Read at most this many uncompressed bytes from one archive, e.g. 4G (default 1G).",
        ),
        click.option(
            "--max-archive-ratio",
            type=click.IntRange(1),
            default=None,
            help=f"Leave out archive entries that expand more than this many times (default {default.ratio}).",
        ),
        click.option(
            "--max-archive-entries",
            type=click.IntRange(1),
            default=None,
            help=f"Read at most this many entries of one archive (default {default.entries}).",
        ),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def config_options(f: _F) -> _F:
    f = click.option(
        "--no-config",
        is_flag=True,
        help="Ignore .pit-guard.toml / pyproject.toml settings: report everything the rules find.",
    )(f)
    return click.option(
        "--config",
        "config_file",
        type=click.Path(dir_okay=False),
        help="Settings file to use instead of .pit-guard.toml / pyproject.toml found from here "
        "(CI: keep it outside the code under test, so a commit cannot change its own check).",
    )(f)


def settings(config_file: Optional[str], no_config: bool) -> Config:
    """This run's settings: none with --no-config, else --config FILE or the one found from here."""
    if no_config:
        if config_file:
            raise click.UsageError("use either --config or --no-config, not both")
        return Config()
    return load_config(config_file)


def validation_options(f: _F) -> _F:
    """--validate-concurrency, --validate-timeout, --validate-total-timeout (scanning commands and validate)."""
    options = [
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
    ]
    for option in reversed(options):
        f = option(f)
    return f


def output_options(f: _F) -> _F:
    """--format, --output, --show-secrets (every command that writes a report)."""
    options = [
        click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True),
        click.option(
            "--output", "-o", type=click.Path(dir_okay=False), help="Write the report to FILE instead of stdout."
        ),
        click.option("--show-secrets", is_flag=True, help="Print secrets in full (default: redacted)."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def report_options(f: Callable[..., int]) -> Callable[..., int]:
    """The options every scanning command shares (scan, audit, ci, hooks). The command receives them
    resolved, as `run: Run` (settings loaded once, --max-file-size decided, --output checked)."""

    @functools.wraps(f)
    def command(
        *args: Any,
        fmt: str,
        output: Optional[str],
        show_secrets: bool,
        fail_on_expired: bool,
        baseline_file: Optional[str],
        config_file: Optional[str],
        no_config: bool,
        validate: bool,
        validate_concurrency: int,
        validate_timeout: float,
        validate_total_timeout: float,
        fail_on: str,
        max_file_size: Optional[int],
        max_archive_depth: Optional[int],
        max_archive_bytes: Optional[int],
        max_archive_ratio: Optional[int],
        max_archive_entries: Optional[int],
        **kwargs: Any,
    ) -> int:
        run = resolve(
            settings(config_file, no_config),
            fmt=fmt,
            output=output,
            show_secrets=show_secrets,
            fail_on_expired=fail_on_expired,
            baseline_file=baseline_file,
            validate=validate,
            validate_concurrency=validate_concurrency,
            validate_timeout=validate_timeout,
            validate_total_timeout=validate_total_timeout,
            fail_on=fail_on,
            max_file_size=max_file_size,
            archives=archive_limits(max_archive_depth, max_archive_bytes, max_archive_ratio, max_archive_entries),
        )
        return f(*args, run=run, **kwargs)

    decorated: Callable[..., int] = command
    for option in reversed(
        [
            output_options,
            click.option("--fail-on-expired", is_flag=True, help="Expired OAuth tokens fail the run too."),
            click.option(
                "--baseline",
                "baseline_file",
                type=click.Path(dir_okay=False),
                help="Report only findings not accepted in FILE (written by `pit-guard baseline`).",
            ),
            config_options,
            click.option(
                "--validate",
                is_flag=True,
                help="Ask GoHighLevel's API whether each token is still live (sends tokens to GoHighLevel only).",
            ),
            validation_options,
            click.option(
                "--fail-on",
                type=click.Choice(["any", "live"]),
                default="any",
                show_default=True,
                help="'live': fail only on tokens that may still work (live, unknown, not-checked).",
            ),
            max_file_size_option,
            archive_options,
        ]
    ):
        decorated = option(decorated)
    return decorated


def token_findings() -> List[Finding]:
    """The credentials in one token typed at a hidden prompt or piped in (never taken from argv,
    where other users and shell history would see it)."""
    from pit_guard.detection.detect import scan_bytes

    if sys.stdin is None:
        raise FatalError("no standard input to read a token from (pipe it in, or run in a terminal)")
    if sys.stdin.isatty():
        import getpass

        text = getpass.getpass("GoHighLevel token (input hidden): ")
    else:
        text = sys.stdin.read()
    findings = scan_bytes(text.encode("utf-8", "surrogateescape"), "<stdin>")
    del text
    if not findings:
        raise FatalError("no GoHighLevel credential found in the input (paste the whole token)")
    return findings
