"""The CI recipes in ci/fleet/ really work: their shell steps, run as written (variables filled in as
the CI would), against a loopback forge API and file:// repositories, produce merged reports equal
to a single run's."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from fleet_helpers import make_remote, new_pit
from forge_fake_server import FakeForge
from ghl_fake_server import FakeGHL
from git_helpers import git_env
from in_process import Runner
from loopback import started

RECIPES = Path(__file__).resolve().parent.parent / "ci" / "fleet"


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    """One organisation for the module (built once: the recipes only read it; each test has its own
    runner folder, HOME and caches)."""
    forge = started(FakeForge())
    tokens = [new_pit() for _ in range(4)]
    repos = []
    remotes = tmp_path_factory.mktemp("remotes")
    for i in range(4):
        url = make_remote(remotes, f"svc{i}", [tokens[i], tokens[0]])[1]
        repos.append({"full_name": f"acme/svc{i}", "clone_url": url, "fork": False, "archived": False})
    forge.github["orgs/acme"] = repos
    forge.gitlab["acme/clients"] = [
        {"path_with_namespace": r["full_name"], "http_url_to_repo": r["clone_url"], "archived": False} for r in repos
    ]
    try:
        yield forge, tokens
    finally:
        forge.stop()


@pytest.fixture(scope="module")
def ghl():
    """One loopback GHL API for the module (every token dead; the tests pass its URLs in the recipes'
    environment, nothing is set in this process's)."""
    server = FakeGHL().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def compiled(org, tmp_path_factory):
    """A compiled-pattern cache (the hyperscan databases, ~0.5 s CPU to compile in each process that
    finds none), made once by a real run. The tests seed the recipes' cache folders with it, as a CI
    cache restored from an earlier night would: the steps still run as written; a cold cache is
    tests/test_prefilter_cache.py's subject."""
    forge, _ = org
    folder = tmp_path_factory.mktemp("compiled")
    env = git_env({"PIT_GUARD_CACHE_DIR": str(folder / "cache")})
    url = forge.github["orgs/acme"][0]["clone_url"]
    proc = subprocess.run(
        [sys.executable, "-m", "pit_guard", "audit", url, "--clone-dir", str(folder / "clones")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1, proc.stderr
    databases = sorted((folder / "cache").glob("*.db"))
    assert databases  # without it the tests below are only slower, never wrong
    return databases


def seed(databases, *folders: Path) -> None:
    """Put the compiled-pattern cache in each folder (0700, files 0600: what pit-guard itself writes)."""
    for folder in folders:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        for database in databases:
            shutil.copyfile(database, folder / database.name)
            os.chmod(folder / database.name, 0o600)


def shell(script: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-ec", script], cwd=cwd, env=env, capture_output=True, text=True)


def base_env(tmp_path: Path, ghl, extra: dict) -> dict:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    shim = bin_dir / "pit-guard"
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m pit_guard "$@"\n')
    shim.chmod(0o755)
    env = git_env({"HOME": str(tmp_path / "home"), "NO_PROXY": "127.0.0.1,localhost", **extra})
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    env.update({"PIT_GUARD_V2_API_URL": ghl.base, "PIT_GUARD_V1_API_URL": ghl.v1_base})
    for name in ("XDG_CACHE_HOME", "PIT_GUARD_CACHE_DIR", "GITHUB_TOKEN", "GITLAB_TOKEN"):
        env.pop(name, None)
    env.update(extra)
    return env


def single_run(in_process: Runner, env: dict, cwd: Path, *args: str) -> str:
    """The reference: one plain audit of the whole fleet, in-process (the recipes' steps are the real processes)."""
    proc = in_process(
        "audit", *args, "--format", "markdown", cwd=cwd, env=dict(env, PIT_GUARD_CACHE_DIR=str(cwd / "single-cache"))
    )
    assert proc.returncode == 1, proc.stderr
    return proc.stdout


def test_github_actions_matrix_and_merge(tmp_path, org, ghl, in_process, compiled):
    forge, tokens = org
    workflow = yaml.safe_load((RECIPES / "github-actions.yml").read_text())
    shards = workflow["jobs"]["shard"]["strategy"]["matrix"]["shard"]
    assert workflow["jobs"]["shard"]["strategy"]["fail-fast"] is False
    env = base_env(tmp_path, ghl, {"GITHUB_API_URL": forge.base, "SHARDS": workflow["env"]["SHARDS"]})
    assert len(shards) == int(env["SHARDS"])
    work = tmp_path / "runner"
    (work / "shards").mkdir(parents=True)
    seed(compiled, Path(env["HOME"]) / ".cache" / "pit-guard")  # actions/cache restores ~/.cache/pit-guard
    for shard in shards:
        (step,) = [s for s in workflow["jobs"]["shard"]["steps"] if s.get("name", "").startswith("Audit shard")]
        script = (
            step["run"].replace("${{ matrix.shard }}", str(shard)).replace("${{ github.repository_owner }}", "acme")
        )
        proc = shell(script, work, env)
        assert proc.returncode == 0, proc.stderr
        shutil.move(str(work / f"shard-{shard}.json"), str(work / "shards"))  # upload + download-artifact
    for step in workflow["jobs"]["merge"]["steps"]:
        if "run" in step and "pip install" not in step["run"]:
            proc = shell(step["run"], work, env)
            expected = 1 if "SARIF" in step.get("name", "") else 0  # the SARIF merge fails the job on findings
            assert proc.returncode == expected, (step, proc.stderr)
    assert (work / "fleet.md").read_text() == single_run(in_process, env, work, "--github-org", "acme")
    sarif = json.loads((work / "fleet.sarif").read_text())
    results = sarif["runs"][0]["results"]
    # svc0 holds tokens[0] twice in one blob (one place): 4 + 3 places
    assert len(results) == 7 and {r["properties"]["validationStatus"] for r in results} == {"dead"}
    for token in tokens:
        assert token not in (work / "fleet.md").read_text() + (work / "fleet.sarif").read_text()


def test_gitlab_parallel_matrix_and_merge(tmp_path, org, ghl, in_process, compiled):
    forge, _ = org
    pipeline = yaml.safe_load((RECIPES / "gitlab-ci.yml").read_text())
    job = pipeline["pit-guard-shard"]
    (matrix,) = job["parallel"]["matrix"]
    env = base_env(
        tmp_path, ghl, {"CI_API_V4_URL": forge.base + "/api/v4", "FLEET_GROUP": "acme/clients", **pipeline["variables"]}
    )
    work = tmp_path / "project"
    work.mkdir()
    seed(
        compiled, Path(env["HOME"]) / ".cache" / "pit-guard", *(work / ".pit-guard-cache" / s for s in matrix["SHARD"])
    )
    for shard in matrix["SHARD"]:
        shard_env = dict(env, SHARD=shard, PIT_GUARD_CACHE_DIR=str(work / ".pit-guard-cache" / shard))
        for line in job["script"]:
            proc = shell(line, work, shard_env)
            assert proc.returncode == 0, proc.stderr
    codes = [shell(line, work, env).returncode for line in pipeline["pit-guard-merge"]["script"]]
    assert codes == [0, 0, 1]  # count check, markdown, the gitlab report (findings fail the job)
    assert (work / "fleet.md").read_text() == single_run(in_process, env, work, "--gitlab-group", "acme/clients")
    report = json.loads((work / "gl-secret-detection-report.json").read_text())
    assert len(report["vulnerabilities"]) == 7


def test_kubernetes_indexed_job_and_merge(tmp_path, org, ghl, in_process, compiled):
    forge, _ = org
    shards_job, merge_job = list(yaml.safe_load_all((RECIPES / "kubernetes.yaml").read_text()))
    assert shards_job["spec"]["completionMode"] == "Indexed"
    fleet = tmp_path / "fleet"
    (fleet / "reports").mkdir(parents=True)

    def container_env(job):
        (container,) = job["spec"]["template"]["spec"]["containers"]
        plain = {e["name"]: e["value"] for e in container["env"] if "value" in e}
        return container["args"][0].replace("/fleet/", f"{fleet}/"), plain

    script, plain = container_env(shards_job)
    env = base_env(tmp_path, ghl, {"GITHUB_API_URL": forge.base, **plain})
    completions = shards_job["spec"]["completions"]
    seed(compiled, fleet / "cache" / "merge", *(fleet / "cache" / f"shard-{i + 1}" for i in range(completions)))
    for index in range(shards_job["spec"]["completions"]):
        proc = shell(script, tmp_path, dict(env, JOB_COMPLETION_INDEX=str(index)))
        assert proc.returncode == 0, proc.stderr
    script, plain = container_env(merge_job)
    proc = shell(script, tmp_path, dict(env, **plain))
    assert proc.returncode == 1, proc.stderr  # findings
    single = single_run(in_process, env, tmp_path, "--github-org", plain.get("ORG", "acme"))
    merged = (fleet / "fleet.md").read_text()
    # the merge validated (dead), the single run did not: the same credentials and places otherwise
    assert re.sub(r"Status: \*\*\w+\*\*.*", "", merged).count("###") == single.count("###") == 4
    assert sorted(re.findall(r"repository `([^`]+)`", merged)) == sorted(re.findall(r"repository `([^`]+)`", single))


def test_a_missing_shard_report_fails_the_merge_step(tmp_path, ghl):
    workflow = yaml.safe_load((RECIPES / "github-actions.yml").read_text())
    (check,) = [s for s in workflow["jobs"]["merge"]["steps"] if s.get("name", "").startswith("Every shard")]
    work = tmp_path / "w"
    (work / "shards").mkdir(parents=True)
    (work / "shards" / "shard-1.json").write_text("{}")
    proc = shell(check["run"], work, base_env(tmp_path, ghl, {"SHARDS": "3"}))
    assert proc.returncode != 0
