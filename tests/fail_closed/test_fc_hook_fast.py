"""Fail-closed matrix, the pre-commit hook's fast path (issue 9): `hook pre-commit` with a plain
command line runs without click, the other commands or hyperscan, and behaves exactly as the click
command does: same exit code, same stdout and stderr, no full token in any output, every other
planted credential still reported; anything unusual on the command line is click's to read.
"""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import sys
from typing import Iterator, List, NamedTuple, Sequence, Tuple

import pytest
from git_helpers import Repo, git_env, new_pit

from pit_guard import cli
from pit_guard.commands import precommit
from pit_guard.detection import prefilter


class Result(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


class Staged(NamedTuple):
    repo: Repo
    tokens: Tuple[str, str]


@pytest.fixture(autouse=True)
def _auto_backend() -> Iterator[None]:
    yield
    prefilter.use_backend("auto")  # the hook leaves "adaptive" on: later tests in this process get the default


@pytest.fixture(scope="module")
def staged_template(tmp_path_factory: pytest.TempPathFactory) -> Staged:
    """Two staged files, each adding a token (a third file is committed and clean): built once."""
    repo = Repo(tmp_path_factory.mktemp("staged") / "repo")
    repo.write("clean.txt", "nothing here\n")
    repo.commit("base")
    tokens = (new_pit(), new_pit())
    repo.write("a.txt", f"GHL_API_KEY = '{tokens[0]}'\n")
    repo.write("sub/b.txt", f"token: {tokens[1]}\n")
    repo.git("add", "-A")
    return Staged(repo, tokens)


@pytest.fixture
def staged(staged_template: Staged, tmp_path: pathlib.Path) -> Staged:
    """A copy of the template of this test's own (its index, objects and files): what a test does to
    it stays there. The copy is of the same repository the template's five git calls made."""
    path = tmp_path / "repo"
    shutil.copytree(staged_template.repo.path, path, symlinks=True)
    repo = Repo(path, init=False)
    repo.tick = staged_template.repo.tick  # later commits stay dated after the template's
    return Staged(repo, staged_template.tokens)


def call(
    args: Sequence[str], cwd: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Result:
    monkeypatch.chdir(cwd)
    capsys.readouterr()
    code = cli.main(list(args))
    out = capsys.readouterr()
    return Result(code, out.out, out.err)


def both_paths(
    args: Sequence[str], cwd: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Tuple[Result, Result]:
    """The run through the fast path (click's group must not even be built), then through click."""
    with monkeypatch.context() as m:

        def no_click() -> None:
            raise AssertionError("the fast path built the click group")

        m.setattr(cli, "_build", no_click)
        fast = call(args, cwd, monkeypatch, capsys)
    with monkeypatch.context() as m:
        m.setattr(precommit, "fast_pre_commit", lambda argv: None)
        slow = call(args, cwd, monkeypatch, capsys)
    return fast, slow


def hidden(tokens: Sequence[str], *texts: str) -> None:
    for text in texts:
        for token in tokens:
            assert token not in text, f"a full token reached the output: {token[:8]}"


def reported(tokens: Sequence[str], text: str) -> None:
    for token in tokens:
        assert token[:8] in text and token[-4:] in text, f"{token[:8]} not reported"


PLAIN: List[Tuple[str, List[str]]] = [
    ("files after --", ["--", "a.txt", "sub/b.txt"]),
    ("files without --", ["a.txt", "sub/b.txt"]),
    ("no files: every staged change", []),
    ("json", ["--format", "json", "--", "a.txt", "sub/b.txt"]),
    ("markdown with =", ["--format=markdown", "a.txt", "sub/b.txt"]),
    ("options between files", ["a.txt", "--no-config", "sub/b.txt"]),
    ("size limit given", ["--max-file-size", "1M", "--", "a.txt", "sub/b.txt"]),
    ("fail-on live", ["--fail-on", "live", "--fail-on-expired", "--", "a.txt", "sub/b.txt"]),
    (
        "validation knobs, not validating",
        ["--validate-concurrency", "8", "--validate-timeout=2.5", "a.txt", "sub/b.txt"],
    ),
]


@pytest.mark.parametrize("args", [row[1] for row in PLAIN], ids=[row[0] for row in PLAIN])
def test_fast_path_is_the_click_command(
    args: List[str], staged: Staged, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fast, slow = both_paths(["hook", "pre-commit", *args], staged.repo.path, monkeypatch, capsys)
    assert fast == slow
    assert fast.returncode == 1
    hidden(staged.tokens, fast.stdout, fast.stderr)
    reported(staged.tokens, fast.stdout)


def test_fast_path_report_file_and_chosen_skip(
    staged: Staged, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """-o FILE, and a --max-file-size that leaves one file out (chosen: told, not failing)."""
    out = tmp_path / "report.json"
    args = ["hook", "pre-commit", "-o", str(out), "--format", "json", "--max-file-size", "20", "a.txt", "sub/b.txt"]
    fast, slow = both_paths(args, staged.repo.path, monkeypatch, capsys)
    report = out.read_text()
    assert fast == slow
    assert fast.returncode == 0  # both files are over 20 bytes: skipped by choice
    assert [s["fails"] for s in json.loads(report)["skipped"]] == [False, False]
    hidden(staged.tokens, fast.stdout, fast.stderr, report)


def test_fast_path_unmerged_file_exits_2_and_reports_the_rest(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Fail closed through the fast path: an unmerged path is not read (exit 2), the other file's
    token is still reported."""
    repo = Repo(tmp_path / "repo")
    repo.write("c.txt", "base\n")
    repo.commit("base")
    repo.git("checkout", "-q", "-b", "other")
    repo.write("c.txt", "theirs\n")
    repo.commit("theirs")
    repo.git("checkout", "-q", "-")
    repo.write("c.txt", "ours\n")
    repo.commit("ours")
    repo.git("merge", "-q", "other", check=False)
    token = new_pit()
    repo.write("a.txt", f"key = '{token}'\n")
    repo.git("add", "a.txt")
    fast, slow = both_paths(["hook", "pre-commit", "--", "a.txt", "c.txt"], repo.path, monkeypatch, capsys)
    assert fast == slow
    assert fast.returncode == 2
    assert "not scanned c.txt: unmerged" in fast.stderr
    hidden([token], fast.stdout, fast.stderr)
    reported([token], fast.stdout)


CLICKS: List[Tuple[str, List[str], int, str]] = [
    ("--help", ["--help"], 0, "Usage: pit-guard hook pre-commit"),
    ("-h", ["-h", "a.txt"], 0, "Usage: pit-guard hook pre-commit"),
    ("unknown option", ["--bogus", "a.txt"], 2, "No such option"),
    ("bad choice", ["--format", "xml", "a.txt"], 2, "Invalid value for '--format'"),
    ("repeated option", ["--format", "json", "--format", "text", "a.txt"], 1, ""),
    ("missing value", ["a.txt", "--format"], 2, "requires an argument"),
    ("out of range", ["--validate-concurrency", "99", "a.txt"], 2, "--validate-concurrency"),
    ("bad size", ["--max-file-size", "0", "a.txt"], 2, "--max-file-size"),
    ("config and no-config", ["--config", "x.toml", "--no-config", "a.txt"], 2, "either --config or --no-config"),
    ("output is a folder", ["--output", "sub", "a.txt"], 2, "is a directory"),
    ("flag with a value", ["--validate=yes", "a.txt"], 2, "does not take a value"),
    ("short option glued", ["-oreport.txt", "a.txt"], 1, ""),
    ("a dash", ["-", "a.txt"], 1, ""),
]


@pytest.mark.parametrize("args,code,says", [row[1:] for row in CLICKS], ids=[row[0] for row in CLICKS])
def test_anything_unusual_is_read_by_click(
    args: List[str],
    code: int,
    says: str,
    staged: Staged,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The fast path declines (help, errors, repeats: click's words and exit codes, unchanged)."""
    monkeypatch.chdir(staged.repo.path)
    assert precommit.parse(args) is None
    result = call(["hook", "pre-commit", *args], staged.repo.path, monkeypatch, capsys)
    assert result.returncode == code, result.stderr
    assert says in result.stdout + result.stderr
    hidden(staged.tokens, result.stdout, result.stderr)


def test_hook_path_imports_neither_click_nor_hyperscan(staged: Staged) -> None:
    """What makes the hook fast: a few staged files need no click, no other command, no TOML parser
    (no config file) and no hyperscan database (the Python prefilter finds the same)."""
    probe = (
        "import sys\n"
        "from pit_guard.cli import main\n"
        "code = main(['hook', 'pre-commit', '--', 'a.txt', 'sub/b.txt'])\n"
        "heavy = ('click', 'hyperscan', 'tomllib', 'tomli', 'pit_guard.commands.audit', 'pit_guard.commands.scan',"
        " 'pit_guard.validation.checks')\n"
        "print(sorted(m for m in sys.modules if m.startswith(heavy)), file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=staged.repo.path,
        env=git_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.splitlines()[-1] == "[]"
    hidden(staged.tokens, proc.stdout, proc.stderr)
    reported(staged.tokens, proc.stdout)


def test_adaptive_backend_switches_to_hyperscan_past_its_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """Python prefilter for the first ADAPTIVE_BYTES, then hyperscan (loaded once, then kept)."""
    pytest.importorskip("hyperscan")
    data = f"x = '{new_pit()}'\n".encode() * 40
    monkeypatch.setattr(prefilter, "ADAPTIVE_BYTES", len(data) + 1)
    monkeypatch.setattr(prefilter, "_compiled", None)
    assert prefilter.use_backend("adaptive") == "python"
    assert prefilter.families(data) == {"pit"}
    assert prefilter._compiled is None  # within the budget: nothing loaded
    assert prefilter.families(data) == {"pit"}
    assert prefilter._scanner is prefilter._compiled and prefilter._compiled is not prefilter._python_families
    assert prefilter.use_backend("adaptive") == "hyperscan"  # once loaded, kept


def test_hook_findings_do_not_depend_on_the_backend(
    staged: Staged, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A budget of 0 bytes (hyperscan from the first file) and the default report the same."""
    args = ["hook", "pre-commit", "--format", "json", "--", "a.txt", "sub/b.txt"]
    default = call(args, staged.repo.path, monkeypatch, capsys)
    monkeypatch.setattr(prefilter, "ADAPTIVE_BYTES", 0)
    eager = call(args, staged.repo.path, monkeypatch, capsys)
    assert default == eager and default.returncode == 1
    hidden(staged.tokens, default.stdout, default.stderr)
    reported(staged.tokens, default.stdout)
