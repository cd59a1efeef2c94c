"""Fail-closed matrix, outputs: suppression is counted and told, outputs never read or clobber what
the run uses, every name reaching output is redacted, signals and environment errors exit cleanly.

Every row asserts the exit code, that no full planted token reaches any output, and that the other
planted credentials are still reported.
"""

from __future__ import annotations

import json
import os
import pathlib
import resource
import signal
import subprocess
import sys
from typing import Any, Callable, Dict, List, NamedTuple, Optional, Sequence

import pytest
from git_helpers import Repo, git_env, new_pit

from pit_guard import cli
from pit_guard.finding import redact

FORMATS = ("text", "json", "sarif", "gitlab", "markdown")


def run(
    args: Sequence[str],
    cwd: pathlib.Path,
    env: Optional[Dict[str, str]] = None,
    timeout: float = 60,
    **kwargs: Any,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pit_guard", *args],
        cwd=cwd,
        env=git_env(env),
        capture_output="stdout" not in kwargs,
        text=True,
        timeout=timeout,
        **kwargs,
    )


class Result(NamedTuple):
    returncode: int
    stdout: str
    stderr: str


Call = Callable[..., Result]


@pytest.fixture
def pg(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Call:
    """pit-guard in this process (fast): the exit code main() returns, stdout and stderr."""

    def call(args: Sequence[str], cwd: pathlib.Path) -> Result:
        monkeypatch.chdir(cwd)
        capsys.readouterr()
        code = cli.main(list(args))
        out = capsys.readouterr()
        return Result(code, out.out, out.err)

    return call


def hidden(tokens: Sequence[str], *texts: str) -> None:
    for text in texts:
        for token in tokens:
            assert token not in text, f"a full token reached the output: {token[:8]}"


def _limit_memory() -> None:  # a regression reading /dev/full whole must fail fast, not take the machine
    resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))


# --- item 6: whatever suppresses is counted and told --------------------------------------------


def _project(tmp_path: pathlib.Path, config: str) -> Dict[str, str]:
    kept, hit = new_pit(), new_pit()
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "keep.txt").write_text(f"TOKEN={kept}\n")
    (tmp_path / "vendor").mkdir()
    (tmp_path / "vendor" / "lib.txt").write_text(f"TOKEN={hit}\n")
    (tmp_path / ".pit-guard.toml").write_text(config)
    return {"kept": kept, "hit": hit}


@pytest.mark.parametrize("fmt", FORMATS)
def test_exclude_everything_is_told_in_every_format(pg: Call, tmp_path: pathlib.Path, fmt: str) -> None:
    tokens = _project(tmp_path, "exclude = ['*']\n")
    proc = pg(["scan", "--format", fmt, "src", "vendor"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "2 findings suppressed: 2 by " in proc.stderr and ".pit-guard.toml exclude" in proc.stderr
    hidden(list(tokens.values()), proc.stdout, proc.stderr)
    if fmt == "json":
        assert json.loads(proc.stdout)["suppressed"]["total"] == 2
    elif fmt == "sarif":
        run_ = json.loads(proc.stdout)["runs"][0]
        assert run_["properties"]["suppressed"]["total"] == 2
    elif fmt == "gitlab":
        messages = json.loads(proc.stdout)["scan"]["messages"]
        assert any("2 findings suppressed" in m["value"] for m in messages)
    else:
        assert "2 findings suppressed" in proc.stdout


def _fingerprint(secret: str) -> str:
    from pit_guard.finding import fingerprint

    return fingerprint("ghl-private-integration-token", secret)


@pytest.mark.parametrize("how", ["exclude", "disable-rules", "allow", "baseline", "allow-marker", "unread-excluded"])
def test_each_suppression_is_counted_and_the_rest_reported(pg: Call, tmp_path: pathlib.Path, how: str) -> None:
    kept, hit = new_pit(), new_pit()
    (tmp_path / "keep.txt").write_text(f"TOKEN={kept}\n")
    target = tmp_path / "vendor" / "lib.txt"
    target.parent.mkdir()
    target.write_text(f"TOKEN={hit}  # pit-guard: allow\n" if how == "allow-marker" else f"TOKEN={hit}\n")
    args = ["scan", "--format", "json", "keep.txt", "vendor"]
    config = ""
    if how == "exclude":
        config = "exclude = ['vendor']\n"
    elif how == "allow":
        config = f"allow = ['{_fingerprint(hit)}']\n"
    elif how == "disable-rules":  # disabling the rule silences both: told as 2
        config = "disable-rules = ['ghl-private-integration-token']\n"
    elif how == "baseline":
        assert pg(["baseline", "vendor", "--output", "b.json"], tmp_path).returncode == 0
        args += ["--baseline", "b.json"]
    elif how == "unread-excluded":
        os.symlink("missing-target", tmp_path / "vendor" / "broken")
        config = "exclude = ['vendor']\n"
        args.append("vendor/broken")  # named: a broken symlink is an unread input
    (tmp_path / ".pit-guard.toml").write_text(config)
    proc = pg(args, tmp_path)
    hidden([kept, hit], proc.stdout, proc.stderr)
    document = json.loads(proc.stdout)
    told = document["suppressed"]
    if how == "disable-rules":
        assert proc.returncode == 0 and told["total"] == 2 and document["findings"] == []
        return
    assert proc.returncode == 1, proc.stderr
    assert [f["fingerprint"] for f in document["findings"]] == [_fingerprint(kept)]
    expected = {"findings": 1, "unread": 1 if how == "unread-excluded" else 0}
    assert told["total"] == expected["findings"] + expected["unread"]
    (entry,) = told["by"]
    assert entry["how"] == ("exclude" if how == "unread-excluded" else how)
    assert {k: entry[k] for k in expected} == expected
    assert "suppressed" in proc.stderr
    assert document["complete"] is True


def test_no_config_ignores_the_repository_settings(pg: Call, tmp_path: pathlib.Path) -> None:
    repo = Repo(tmp_path / "r")
    secret = new_pit()
    repo.write("a.txt", f"T={secret}\n")
    repo.write(".pit-guard.toml", "exclude = ['*']\nmax-file-size = 1\n")
    repo.commit("add")
    for args in (["scan", "."], ["audit"], ["hook", "pre-commit"], ["scan", "--staged"]):
        if args[0] == "hook" or "--staged" in args:
            repo.write("b.txt", f"T={secret}\n")
            repo.git("add", "b.txt")
        with_config = pg([*args], repo.path)
        assert with_config.returncode == 0, (args, with_config.stderr)
        assert "suppressed" in with_config.stderr and ".pit-guard.toml" in with_config.stderr
        proc = pg([*args, "--no-config"], repo.path)
        assert proc.returncode == 1, (args, proc.stderr)
        assert redact(secret) in proc.stdout
        hidden([secret], proc.stdout, proc.stderr, with_config.stdout, with_config.stderr)
    both = pg(["scan", ".", "--no-config", "--config", ".pit-guard.toml"], repo.path)
    assert both.returncode == 2 and "Traceback" not in both.stderr
    baseline = pg(["baseline", ".", "--no-config", "--output", "b.json"], repo.path)
    assert baseline.returncode == 0 and "1 entry" in baseline.stderr  # a.txt and b.txt: one secret


@pytest.mark.parametrize(
    "command", [["scan"], ["audit"], ["ci"], ["hook", "pre-commit"], ["hook", "pre-push"], ["baseline"]]
)
def test_every_scanning_command_has_no_config(command: List[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([*command, "--help"]) == 0
    assert "--no-config" in capsys.readouterr().out


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_incomplete_run_says_so_in_every_format(pg: Call, tmp_path: pathlib.Path, fmt: str) -> None:
    secret = new_pit()
    (tmp_path / "a.txt").write_text(f"T={secret}\n")
    os.symlink("nowhere", tmp_path / "broken")
    proc = pg(["scan", "--format", fmt, "a.txt", "broken"], tmp_path)
    assert proc.returncode == 2
    hidden([secret], proc.stdout, proc.stderr)
    if fmt == "json":
        document = json.loads(proc.stdout)
        assert document["complete"] is False and document["unread"] == 1
        assert len(document["findings"]) == 1
    elif fmt == "sarif":
        document = json.loads(proc.stdout)
        assert document["runs"][0]["invocations"][0]["executionSuccessful"] is False
        assert len(document["runs"][0]["results"]) == 1
    elif fmt == "gitlab":
        document = json.loads(proc.stdout)
        assert document["scan"]["status"] == "failure" and len(document["vulnerabilities"]) == 1
    else:
        assert "incomplete" in proc.stdout.lower() and redact(secret) in proc.stdout


# --- item 7: outputs are never read; written atomically or streamed -------------------------------


def _one_finding(tmp_path: pathlib.Path) -> str:
    secret = new_pit()
    (tmp_path / "a.txt").write_text(f"T={secret}\n")
    return secret


@pytest.mark.parametrize("command", ["baseline", "scan"])
def test_output_to_dev_full_is_a_clean_error(tmp_path: pathlib.Path, command: str) -> None:
    secret = _one_finding(tmp_path)
    proc = run([command, "a.txt", "--output", "/dev/full"], tmp_path, preexec_fn=_limit_memory, timeout=30)
    assert proc.returncode == 2, proc.stderr
    assert "No space left on device" in proc.stderr and "Traceback" not in proc.stderr
    assert "internal error" not in proc.stderr
    hidden([secret], proc.stdout, proc.stderr)


@pytest.mark.parametrize("command", ["baseline", "scan"])
def test_output_to_dev_stdout_pipe_streams(tmp_path: pathlib.Path, command: str) -> None:
    secret = _one_finding(tmp_path)
    fmt = ["--format", "json"] if command == "scan" else []
    # stdout is a pipe here (`pit-guard ... --output /dev/stdout | cat`): it must not be read.
    proc = run([command, "a.txt", *fmt, "--output", "/dev/stdout"], tmp_path, timeout=30)
    assert proc.returncode == (0 if command == "baseline" else 1), proc.stderr
    document = json.loads(proc.stdout)
    assert len(document["findings"]) == 1
    hidden([secret], proc.stdout, proc.stderr)


def test_baseline_output_over_a_huge_file_is_not_read(tmp_path: pathlib.Path) -> None:
    secret = _one_finding(tmp_path)
    big = tmp_path / "big.json"
    with open(big, "wb") as f:
        f.truncate(8 << 30)  # sparse: 8 GiB that must never be read into memory
    proc = run(["baseline", "a.txt", "--output", "big.json"], tmp_path, preexec_fn=_limit_memory, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert len(json.loads(big.read_text())["findings"]) == 1
    hidden([secret], proc.stdout, proc.stderr, big.read_text())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "big.json"]  # no temp file left


def test_report_output_through_a_symlink_keeps_the_link(pg: Call, tmp_path: pathlib.Path) -> None:
    secret = _one_finding(tmp_path)
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "r.json").write_text("old")
    os.symlink("reports/r.json", tmp_path / "link.json")
    proc = pg(["scan", "a.txt", "--format", "json", "--output", "link.json"], tmp_path)
    assert proc.returncode == 1
    assert os.path.islink(tmp_path / "link.json")
    assert len(json.loads((tmp_path / "reports" / "r.json").read_text())["findings"]) == 1
    hidden([secret], proc.stdout, proc.stderr, (tmp_path / "reports" / "r.json").read_text())
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == ["r.json"]


# --- item 8: --output never overwrites what the run reads ----------------------------------------


@pytest.mark.parametrize("via", ["same", "symlink", "dotted"])
@pytest.mark.parametrize("target", ["baseline", "config", "found-config"])
def test_output_may_not_be_the_baseline_or_config(pg: Call, tmp_path: pathlib.Path, via: str, target: str) -> None:
    accepted, fresh = new_pit(), new_pit()
    (tmp_path / "old.txt").write_text(f"T={accepted}\n")
    assert pg(["baseline", "old.txt", "--output", "b.json"], tmp_path).returncode == 0
    (tmp_path / "new.txt").write_text(f"T={fresh}\n")
    (tmp_path / "c.toml").write_text("exclude = ['nothing']\n")
    (tmp_path / ".pit-guard.toml").write_text("exclude = ['nothing']\n")
    name = {"baseline": "b.json", "config": "c.toml", "found-config": ".pit-guard.toml"}[target]
    before = (tmp_path / name).read_bytes()
    output = {"same": name, "symlink": "link", "dotted": f"./{name}"}[via]
    if via == "symlink":
        os.symlink(name, tmp_path / "link")
    args = ["scan", "old.txt", "new.txt", "--baseline", "b.json", "--output", output]
    if target == "config":
        args += ["--config", "c.toml"]
    proc = pg(args, tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "refusing to overwrite" in proc.stderr and "Traceback" not in proc.stderr
    assert (tmp_path / name).read_bytes() == before
    hidden([accepted, fresh], proc.stdout, proc.stderr)
    if target != "baseline":  # `baseline --output` may not be the config it reads either
        args = ["baseline", "old.txt", "--output", output] + (["--config", "c.toml"] if target == "config" else [])
        proc = pg(args, tmp_path)
        assert proc.returncode == 2 and (tmp_path / name).read_bytes() == before


# --- item 10: every name that reaches output is redacted -----------------------------------------


def test_tokens_in_every_name_are_redacted_in_every_format(pg: Call, tmp_path: pathlib.Path) -> None:
    t = {
        k: new_pit()
        for k in (
            "folder",
            "file",
            "branch",
            "tag",
            "remote",
            "submodule",
            "exclude",
            "config",
            "baseline",
            "output",
            "missing",
            "secret",
            "accepted",
            "excluded",
            "author",
        )
    }
    repo = Repo(tmp_path / "r")
    repo.write(f"{t['folder']}/{t['file']}.txt", f"T={t['secret']}\n")
    repo.write("old.txt", f"T={t['accepted']}\n")
    repo.write(f"{t['exclude']}/x.txt", f"T={t['excluded']}\n")
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "first", f"--author={t['author']} <a@example.com>")
    repo.git("update-index", "--add", "--cacheinfo", f"160000,{repo.head()},{t['submodule']}")
    repo.git("commit", "-q", "-m", "submodule")
    repo.git("branch", t["branch"])
    repo.git("tag", t["tag"])
    repo.git("update-ref", f"refs/remotes/origin/{t['remote']}", "HEAD")
    repo.write(f"{t['config']}.toml", f"exclude = ['{t['exclude']}']\n")
    assert pg(["baseline", "old.txt", "--output", f"{t['baseline']}.json"], repo.path).returncode == 0
    everything = list(t.values())
    for fmt in FORMATS:
        out = f"{t['output']}.{fmt}"
        common = ["--format", fmt, "--config", f"{t['config']}.toml", "--baseline", f"{t['baseline']}.json"]
        audit = pg(["audit", *common, "--output", out], repo.path)
        assert audit.returncode == 1, audit.stderr
        written = (repo.path / out).read_text()
        assert redact(t["secret"]) in written and "suppressed" in audit.stderr and "submodule" in audit.stderr
        scan = pg(["scan", ".", *common], repo.path)
        assert scan.returncode == 1 and redact(t["secret"]) in scan.stdout
        hidden(everything, audit.stdout, audit.stderr, written, scan.stdout, scan.stderr)
    # Error messages: a config value, paths given, click's own usage errors.
    repo.write("bad.toml", f"disable-rules = ['{t['exclude']}']\n")
    for args in (
        ["scan", ".", "--config", "bad.toml"],
        ["scan", ".", "--output", f"{t['folder']}/none/{t['output']}"],
        ["scan", ".", "--format", t["output"]],
        ["scan", f"{t['missing']}.txt"],
        ["scan", ".", "--baseline", f"{t['missing']}.json"],
        ["scan", ".", f"--{t['output']}"],
    ):
        proc = pg(args, repo.path)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stderr.strip() and "Traceback" not in proc.stderr
        hidden(everything, proc.stdout, proc.stderr)


# --- item 12: signals end the run cleanly ---------------------------------------------------------


def _descendants_of_group(pgid: int) -> List[int]:
    left = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = pathlib.Path(f"/proc/{entry}/stat").read_bytes().rsplit(b")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[2]) == pgid and fields[0] != b"Z":
                left.append(int(entry))
    return left


@pytest.mark.parametrize(
    "signum,to_group,code",
    [(signal.SIGTERM, False, 143), (signal.SIGTERM, True, 143), (signal.SIGHUP, True, 129), (signal.SIGINT, True, 130)],
    ids=["term", "term-group", "hup-group", "int-group"],
)
def test_signal_mid_audit_exits_cleanly(tmp_path: pathlib.Path, signum: int, to_group: bool, code: int) -> None:
    repo = Repo(tmp_path / "r")
    secret = new_pit()
    for i in range(30):
        repo.write(f"f{i}.txt", f"T={secret if i == 0 else new_pit()}\n")
    repo.commit("many")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = git_env({"TMPDIR": str(tmp), "PIT_GUARD_TEST_PAUSE": "1"})
    proc = subprocess.Popen(
        [sys.executable, "-m", "pit_guard", "audit", "--output", str(tmp_path / "report.txt")],
        cwd=repo.path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        assert proc.stderr is not None
        seen = []
        for line in iter(proc.stderr.readline, b""):  # no sleeps: wait for the marker
            seen.append(line)
            if b"test: paused" in line:
                break
        else:
            raise AssertionError(b"".join(seen).decode())
        os.killpg(proc.pid, signum) if to_group else os.kill(proc.pid, signum)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    stderr = b"".join(seen).decode() + err.decode()
    assert proc.returncode == code, stderr
    assert "Traceback" not in stderr
    assert _descendants_of_group(proc.pid) == []
    assert list(tmp.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r", "tmp"]
    hidden([secret], out.decode(), stderr)


# --- item 15: environment errors are plain messages, exit 2 --------------------------------------


def test_stdout_closed_is_an_error_not_a_silent_pass(tmp_path: pathlib.Path) -> None:
    secret = _one_finding(tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "pit_guard", "scan", "a.txt"],
        cwd=tmp_path,
        env=git_env(),
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: os.close(1),
        timeout=60,
    )
    assert proc.returncode == 2 and "standard output is closed" in proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr
    hidden([secret], proc.stderr)


def test_stdout_full_is_a_plain_error(tmp_path: pathlib.Path) -> None:
    secret = _one_finding(tmp_path)
    with open("/dev/full", "w") as full:
        proc = run(["scan", "a.txt"], tmp_path, stdout=full, stderr=subprocess.PIPE)
    assert proc.returncode == 2 and "No space left on device" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr and "internal error" not in proc.stderr and "ignored" not in proc.stderr
    hidden([secret], proc.stderr)


def test_closed_pipe_is_no_traceback(tmp_path: pathlib.Path) -> None:
    secret = _one_finding(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "pit_guard", "scan", "a.txt"],
        cwd=tmp_path,
        env=git_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None
    proc.stdout.close()  # the reader is gone before a byte is written (`| head -0`): EPIPE, deterministically
    _, err = proc.communicate(timeout=60)
    stderr = err.decode()
    assert proc.returncode == 2, stderr
    assert "Traceback" not in stderr and "ignored" not in stderr and "internal error" not in stderr
    hidden([secret], stderr)


def test_deep_json_baseline_is_a_plain_error(pg: Call, tmp_path: pathlib.Path) -> None:
    secret = _one_finding(tmp_path)
    (tmp_path / "deep.json").write_text("[" * 200000)
    proc = pg(["scan", "a.txt", "--baseline", "deep.json"], tmp_path)
    assert proc.returncode == 2 and "nested too deeply" in proc.stderr
    assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr
    hidden([secret], proc.stdout, proc.stderr)


def test_memory_error_is_a_plain_error(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import pit_guard.sources.files

    def boom(*args: object, **kwargs: object) -> None:
        raise MemoryError

    monkeypatch.setattr(pit_guard.sources.files, "scan_paths", boom)
    assert cli.main(["scan", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "out of memory" in err and "internal error" not in err


def test_debug_keeps_exit_2_and_prints_a_redacted_traceback(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import pit_guard.sources.files

    secret = new_pit()

    def boom(*args: object, **kwargs: object) -> None:
        raise ValueError(f"bug near {secret}")

    monkeypatch.setattr(pit_guard.sources.files, "scan_paths", boom)
    monkeypatch.setenv("PIT_GUARD_DEBUG", "1")
    assert cli.main(["scan", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "internal error" in err
    hidden([secret], err)


def test_validate_output_may_not_be_the_report_it_reads(pg: Call, tmp_path: pathlib.Path) -> None:
    secret = _one_finding(tmp_path)
    assert pg(["scan", "a.txt", "--format", "json", "--output", "r.json"], tmp_path).returncode == 1
    before = (tmp_path / "r.json").read_bytes()
    proc = pg(["validate", "--report", "r.json", "--output", "./r.json"], tmp_path)
    assert proc.returncode == 2 and "refusing to overwrite" in proc.stderr
    assert (tmp_path / "r.json").read_bytes() == before
    hidden([secret], proc.stdout, proc.stderr, before.decode())
