"""The released artefacts work: `python -m build` makes an sdist and a wheel that `twine check`
passes, and the wheel installed into a fresh virtualenv runs the pre-commit hook in a real repository.

Built once per session, without build isolation: the test extra pins the setuptools that
[build-system] requires, so no environment is made and nothing is fetched (an isolated build made two
environments and took about 15 s of the suite; the release process in CONTRIBUTING.md builds isolated). The fresh virtualenv has no pip and gets no dependencies from the
network: the wheel goes in with `--no-deps`, and a .pth file makes the directories that hold the
test environment's copies of pit-guard's dependencies importable. That works whether the tests run
in a virtualenv or in the system Python (as CI does); the wheel's own package comes first on sys.path.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Dict, List, Tuple

import pytest
from git_helpers import Repo, git_env, new_pit

import pit_guard

ROOT = Path(__file__).resolve().parent.parent
# pit-guard's runtime dependencies (import names), and theirs; the optional ones may be absent.
DEPENDENCIES = ("click",)
OPTIONAL = ("hyperscan", "tomli")


def run(args: List[str], **kw: object) -> subprocess.CompletedProcess:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=300, **kw)  # type: ignore[call-overload]
    assert proc.returncode == 0, f"{args} exited {proc.returncode}:\n{proc.stdout}\n{proc.stderr}"
    return proc


def _dependency_dirs() -> List[str]:
    dirs: List[str] = []
    for name in DEPENDENCIES + OPTIONAL:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.origin:
            assert name in OPTIONAL, f"{name} (a dependency of pit-guard) is not installed in the test environment"
            continue
        origin = Path(spec.origin)
        # a package's __init__.py sits in <dir>/<name>/, a module's file in <dir>/
        folder = str(origin.parent.parent if origin.name == "__init__.py" else origin.parent)
        if folder not in dirs:
            dirs.append(folder)
    return dirs


@pytest.fixture(scope="session")
def dists(tmp_path_factory: pytest.TempPathFactory) -> Dict[str, Path]:
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)])
    wheels, sdists = sorted(out.glob("*.whl")), sorted(out.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1, sorted(p.name for p in out.iterdir())
    return {"wheel": wheels[0], "sdist": sdists[0]}


@pytest.fixture(scope="session")
def installed(dists: Dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv holding the built wheel; returns its bin (Scripts) folder."""
    venv = tmp_path_factory.mktemp("venv") / "v"
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    bindir = venv / ("Scripts" if sys.platform == "win32" else "bin")
    python = bindir / ("python.exe" if sys.platform == "win32" else "python")
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", str(dists["wheel"])])
    purelib = run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip()
    Path(purelib, "pit_guard_test_dependencies.pth").write_text("\n".join(_dependency_dirs()) + "\n")
    return bindir


def test_sdist_and_wheel_pass_twine_check(dists: Dict[str, Path]) -> None:
    proc = run([sys.executable, "-m", "twine", "check", "--strict", str(dists["sdist"]), str(dists["wheel"])])
    assert proc.stdout.count("PASSED") == 2, proc.stdout


def test_one_version_everywhere(dists: Dict[str, Path], installed: Path, tmp_path: Path) -> None:
    version = pit_guard.__version__
    assert dists["wheel"].name.startswith(f"pit_guard-{version}-")
    with zipfile.ZipFile(dists["wheel"]) as wheel:
        metadata = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
        assert f"\nVersion: {version}\n" in wheel.read(metadata).decode()
    python = str(installed / "python")
    where = run([python, "-c", "import pit_guard; print(pit_guard.__file__)"], cwd=tmp_path).stdout
    assert Path(where.strip()).is_relative_to(installed.parent), where  # the wheel's copy, not the checkout's
    assert run([str(installed / "pit-guard"), "--version"]).stdout.split() == ["pit-guard,", "version", version]
    agent = run([python, "-c", "from pit_guard.validation.http import USER_AGENT; print(USER_AGENT)"]).stdout
    assert agent.strip() == f"pit-guard/{version}"
    (tmp_path / "clean.txt").write_text("nothing here\n")
    for fmt in ("sarif", "gitlab"):
        report = tmp_path / f"report.{fmt}"
        run([str(installed / "pit-guard"), "scan", "clean.txt", "--format", fmt, "--output", str(report)], cwd=tmp_path)
        document = json.loads(report.read_text())
        if fmt == "sarif":
            assert document["runs"][0]["tool"]["driver"]["version"] == version
        else:
            assert document["scan"]["scanner"]["version"] == version
            assert document["scan"]["analyzer"]["version"] == version


def test_installed_wheel_runs_the_pre_commit_hook(installed: Path, tmp_path: Path) -> None:
    hook = [str(installed / "pit-guard"), "hook", "pre-commit"]
    repo = Repo(tmp_path / "work")
    repo.write("README.md", "hello\n")
    repo.git("add", "-A")
    clean = subprocess.run(hook, cwd=repo.path, env=git_env(), capture_output=True, text=True, timeout=60)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    repo.commit("clean")

    token = new_pit()
    repo.write("settings.env", f"GHL_TOKEN={token}\n")
    repo.git("add", "settings.env")
    leak = subprocess.run(hook, cwd=repo.path, env=git_env(), capture_output=True, text=True, timeout=60)
    assert leak.returncode == 1, leak.stdout + leak.stderr
    assert "settings.env:1:" in leak.stdout + leak.stderr
    assert token not in leak.stdout + leak.stderr


# --- The CI packaging runs what it says: the action's and the GitLab template's own scripts ----------


def _leaky_repo(path: Path) -> Tuple[Repo, str, str, str]:
    """A repository whose last commit adds a token: (repo, base, head, token)."""
    repo = Repo(path)
    repo.write("README.md", "hello\n")
    base = repo.commit("base")
    token = new_pit()
    repo.write("deploy/app.env", f"GHL_TOKEN={token}\n")
    return repo, base, repo.commit("leak"), token


@pytest.mark.skipif(sys.platform == "win32", reason="the action's steps run in bash")
def test_github_action_scan_step_writes_the_report_and_its_outputs(installed: Path, tmp_path: Path) -> None:
    yaml = pytest.importorskip("yaml")
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    assert set(action["inputs"]) == {"args", "format", "baseline", "version"}
    assert action["runs"]["using"] == "composite"
    steps = {step.get("id"): step for step in action["runs"]["steps"]}
    assert "${{ github.action_path }}" in str(action["runs"]["steps"][0]["env"])  # installs its own checkout
    repo, base, head, token = _leaky_repo(tmp_path / "work")
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"before": base, "after": head}))
    runner_temp = tmp_path / "runner"
    runner_temp.mkdir()
    outputs = tmp_path / "github_output"
    outputs.write_text("")
    env = git_env(
        {
            "GITHUB_ACTIONS": "true",
            "GITHUB_EVENT_NAME": "push",
            "GITHUB_EVENT_PATH": str(event),
            "GITHUB_SHA": head,
            "GITHUB_OUTPUT": str(outputs),
            "RUNNER_TEMP": str(runner_temp),
            "PIT_GUARD_BIN": str(installed),  # what the install step leaves in GITHUB_ENV
            # the inputs, as the step's env maps them
            "PIT_GUARD_ARGS": "--fail-on-expired",
            "PIT_GUARD_FORMAT": "sarif",
            "PIT_GUARD_BASELINE": "",
        }
    )
    # GitHub runs `shell: bash` steps as `bash --noprofile --norc -eo pipefail {0}`.
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", steps["scan"]["run"]],
        cwd=repo.path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    written = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    assert written["exit-code"] == "1"
    report = Path(written["report"])
    assert report.parent == runner_temp and report.suffix == ".sarif"
    text = report.read_text()
    assert token not in text + outputs.read_text() + proc.stdout + proc.stderr
    assert [r["ruleId"] for r in json.loads(text)["runs"][0]["results"]] == ["ghl-private-integration-token"]


@pytest.mark.skipif(sys.platform == "win32", reason="GitLab's docker executor runs the script in a shell")
def test_gitlab_template_job_publishes_a_secret_detection_report(installed: Path, tmp_path: Path) -> None:
    yaml = pytest.importorskip("yaml")
    template = yaml.safe_load((ROOT / "ci" / "pit-guard.gitlab-ci.yml").read_text())
    job = template["pit-guard"]
    assert job["artifacts"]["reports"]["secret_detection"] == "gl-secret-detection-report.json"
    assert str(job["variables"]["GIT_DEPTH"]) == "0"
    repo, base, head, token = _leaky_repo(tmp_path / "work")
    env = git_env(
        {
            **{name: str(value) for name, value in template["variables"].items()},
            "GITLAB_CI": "true",
            "CI_COMMIT_BEFORE_SHA": base,
            "CI_COMMIT_SHA": head,
            "PATH": f"{installed}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    # The template's install lines (apt-get, pip) are the runner image's business; run its script.
    proc = subprocess.run(
        ["sh", "-ec", "\n".join(job["script"])], cwd=repo.path, env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    text = (repo.path / "gl-secret-detection-report.json").read_text()
    assert token not in text + proc.stdout + proc.stderr
    assert len(json.loads(text)["vulnerabilities"]) == 1


def test_dockerfile_is_pinned_and_runs_as_a_user() -> None:
    text = (ROOT / "Dockerfile").read_text()
    bases = re.findall(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M)
    assert len(bases) == 1 and re.fullmatch(r"python:3\.12[.\d]*-slim-bookworm@sha256:[0-9a-f]{64}", bases[0])
    assert re.findall(r"^FROM (\S+)", text, re.M) == ["${PYTHON_IMAGE}", "${PYTHON_IMAGE}"]
    users = re.findall(r"^USER (\S+)$", text, re.M)
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert 'ENTRYPOINT ["pit-guard"]' in text and "install -y --no-install-recommends git" in text
