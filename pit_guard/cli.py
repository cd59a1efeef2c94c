"""Command line: the click group and the explicit list of its commands (nothing registers on import).

Each command lives in commands/ and ends with pipeline.finish(). The group is built on first use
(`cli`, `COMMANDS`): `hook pre-commit` with a plain command line, what a git hook runs on every
commit, is run by commands/precommit.py without importing click or the other commands; its help,
errors and every other command go through click.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple

from pit_guard.errors import FatalError
from pit_guard.finding import EXIT_CLEAN, EXIT_ERROR, notice, redact_text

if TYPE_CHECKING:
    import click

_group: Optional[click.Group] = None
_commands: Tuple[click.Command, ...] = ()


def _build() -> click.Group:
    """The click group and its commands, built once."""
    global _group, _commands
    if _group is not None:
        return _group
    import click

    from pit_guard.commands.audit import audit
    from pit_guard.commands.baseline import baseline
    from pit_guard.commands.ci import ci
    from pit_guard.commands.hook import hook
    from pit_guard.commands.merge import merge
    from pit_guard.commands.purge import purge
    from pit_guard.commands.reach import reach
    from pit_guard.commands.scan import scan
    from pit_guard.commands.validate import validate

    @click.group(context_settings={"help_option_names": ["-h", "--help"]})
    @click.version_option(package_name="pit-guard", prog_name="pit-guard")
    def cli() -> None:
        """Find leaked GoHighLevel credentials. Exit codes: 0 clean, 1 findings, 2 usage or environment error."""

    _commands = (scan, audit, ci, hook, baseline, validate, reach, purge, merge)
    for command in _commands:
        cli.add_command(command)
    _group = cli
    return cli


def __getattr__(name: str) -> Any:
    """`cli` (the click group) and `COMMANDS`, built on first use."""
    if name == "cli":
        return _build()
    if name == "COMMANDS":
        _build()
        return _commands
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class Interrupted(BaseException):
    """SIGTERM or SIGHUP (what `timeout`, CI cancellation and a closed terminal send): unwinds like
    Ctrl-C, so that worker pools, git processes and temp files are cleaned up on the way out."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.code = 128 + signum


# Exit codes for a run ended by a signal (the shell's 128 + signal number; documented in README).
_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


def _on_signal(signum: int, frame: object) -> None:
    for other in (*_SIGNALS, signal.SIGINT):  # a second signal must not interrupt the clean-up
        signal.signal(other, signal.SIG_IGN)
    raise Interrupted(signum)


def _catch_signals() -> Dict[int, Any]:
    import threading

    if threading.current_thread() is not threading.main_thread():
        return {}
    previous = {}
    for signum in _SIGNALS:
        previous[signum] = signal.signal(signum, _on_signal)
    previous[signal.SIGINT] = signal.getsignal(signal.SIGINT)
    return previous


def _end_children() -> None:
    """Stop every child process still running (git, pool workers) and reap it: an interrupted run
    leaves nothing behind. Linux: children are found in /proc; elsewhere the pools' own clean-up is it."""
    import time

    me = os.getpid()
    children = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                fields = f.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 1 and int(fields[1]) == me:
            children.append(int(entry))
    for pid in children:
        try:
            os.kill(pid, signal.SIGTERM)
        except OSError:
            pass
    deadline = time.monotonic() + 2.0
    for pid in children:
        try:
            while os.waitpid(pid, os.WNOHANG) == (0, 0):
                if time.monotonic() > deadline:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                    break
                time.sleep(0.01)
        except OSError:  # already reaped (by its Popen or pool) or not ours
            pass


def main(argv: Optional[List[str]] = None) -> int:
    """Exit codes: 0 clean, 1 findings, 2 usage or environment error or incomplete scan;
    130 Ctrl-C (SIGINT), 143 SIGTERM, 129 SIGHUP (no traceback, no process or temp file left)."""
    previous = _catch_signals()
    try:
        try:
            return _main(argv)
        except Interrupted as e:
            code = e.code
        except KeyboardInterrupt:
            code = 130
        for signum in previous:  # from here on, ignore further signals until we are out
            signal.signal(signum, signal.SIG_IGN)
        _end_children()
        try:
            if sys.stderr is not None:
                sys.stderr.write(f"pit-guard: interrupted, exit {code}\n")
                sys.stderr.flush()
        except (OSError, ValueError):
            pass
        return code
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler if handler is not None else signal.SIG_DFL)


def _run(argv: Optional[List[str]]) -> Any:
    """The command's result: by the fast path when it reads the command line, else by click."""
    from pit_guard.commands.precommit import fast_pre_commit

    args = sys.argv[1:] if argv is None else argv
    if args[:2] == ["hook", "pre-commit"]:
        try:
            code = fast_pre_commit(args)
        except EOFError:  # as click.main turns it into Abort: a blank line, then "aborted"
            _stderr("\n")
            _stderr("pit-guard: aborted\n")
            return EXIT_ERROR
        except KeyboardInterrupt:
            _stderr("\n")
            raise
        if code is not None:
            return code
    import click

    try:
        return _build().main(args=argv, prog_name="pit-guard", standalone_mode=False)
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.exceptions.Abort as e:
        if isinstance(e.__context__, KeyboardInterrupt):
            raise KeyboardInterrupt from None
        click.echo("pit-guard: aborted", err=True)
        return EXIT_ERROR
    except click.ClickException as e:
        setattr(e, "message", redact_text(e.message))  # noqa: B010 - click marks it final; the redaction must win
        e.show()
        return EXIT_ERROR


def _stderr(text: str) -> None:
    if sys.stderr is not None:
        try:
            sys.stderr.write(text)
            sys.stderr.flush()
        except (OSError, ValueError):
            pass  # standard error full or closed: the exit code still tells


def _main(argv: Optional[List[str]]) -> int:
    try:
        code = _run(argv)
    except FatalError as e:
        # Messages name paths and values the user gave: a token among them is redacted.
        notice(f"error: {e}")
        return EXIT_ERROR
    # Environment errors: plain messages, exit 2 (not "internal error").
    except RecursionError:
        notice("error: an input is nested too deeply to read (e.g. a JSON file with thousands of levels)")
        return EXIT_ERROR
    except MemoryError:
        notice("error: out of memory (an input too large for this machine?)")
        return EXIT_ERROR
    except BrokenPipeError:
        from pit_guard.pipeline import silence_stdout

        silence_stdout()
        notice("error: standard output was closed before everything was written")
        return EXIT_ERROR
    except OSError as e:
        where = f"{e.filename}: " if e.filename else ""
        notice(f"error: {where}{e.strerror or e}")
        return EXIT_ERROR
    except Exception as e:  # a bug must not look like a clean run, nor print a token in a traceback
        if os.environ.get("PIT_GUARD_DEBUG"):
            import traceback

            # The traceback, redacted, and still exit 2 (never 1, the findings code).
            _stderr(redact_text(traceback.format_exc()))
        notice(
            f"internal error: {type(e).__name__}: {redact_text(str(e))[:300]} "
            "(set PIT_GUARD_DEBUG=1 for the traceback, and please report it)"
        )
        return EXIT_ERROR
    return code if isinstance(code, int) else EXIT_CLEAN


if __name__ == "__main__":
    sys.exit(main())
