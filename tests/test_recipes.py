"""The CI and container recipes (Dockerfile, docs/ci/): no container engine runs here, so
what can run does. The Dockerfile's install and start commands run in a fresh virtualenv
and must serve a healthy mock with its dashboard (package data, not a checkout); the
Compose and GitHub Actions files must parse and use the commands and base URLs the README
and the specs give.

The fresh virtualenv borrows this test run's own dependencies through a ``.pth`` file
(they come from the same pyproject.toml), so the Dockerfile's ``pip install`` builds and
installs the project itself without downloading its dependencies again; pip's cache is
used, not bypassed (``--no-cache-dir`` is the image's, to keep its layers small).
"""

from __future__ import annotations

import fnmatch
import json
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
import yaml

from conftest import free_port, wait_until_healthy
from mockserver.contracts import load_contract

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order, continuation lines joined, comments left out."""
    text = re.sub(r"\\\n\s*", " ", (REPO / "Dockerfile").read_text(encoding="utf-8"))
    lines = [line.strip() for line in text.splitlines()]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1])
            for line in lines if line and not line.startswith("#")]


def arguments_of(steps: list[tuple[str, str]], instruction: str) -> list[str]:
    return [rest for name, rest in steps if name == instruction]


def ignored_by_dockerignore() -> Callable[[str, list[str]], set[str]]:
    patterns = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]

    def ignore(folder: str, names: list[str]) -> set[str]:
        relative = Path(folder).relative_to(REPO)
        return {name for name in names for pattern in patterns
                if fnmatch.fnmatch(str(relative / name), pattern.removeprefix("**/"))
                or fnmatch.fnmatch(name, pattern.removeprefix("**/"))}

    return ignore


def fresh_venv(folder: Path) -> Path:
    """A virtualenv that sees this run's installed dependencies, not this checkout."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True,
                   timeout=120)
    python = folder / "bin" / "python"
    site = subprocess.run([str(python), "-c", "import sysconfig; "
                           "print(sysconfig.get_path('purelib'))"], capture_output=True,
                          text=True, check=True).stdout.strip()
    borrowed = dict.fromkeys([sysconfig.get_path("purelib"), sysconfig.get_path("platlib")])
    Path(site, "borrowed_dependencies.pth").write_text("\n".join(borrowed) + "\n")
    return python


def test_the_dockerfiles_install_and_start_commands_serve_the_mock(tmp_path):
    steps = dockerfile()
    (base,) = arguments_of(steps, "FROM")
    assert re.fullmatch(r"python:3\.\d+-slim", base)
    assert arguments_of(steps, "USER")[-1] not in ("root", "0")
    (copy,) = arguments_of(steps, "COPY")
    source, destination = copy.split()
    assert source == "."
    context = tmp_path / "context"
    shutil.copytree(REPO, context, ignore=ignored_by_dockerignore())
    assert not (context / "tests").exists() and (context / "mockserver" / "static").is_dir()

    python = fresh_venv(tmp_path / "venv")
    installs = [shlex.split(command) for run in arguments_of(steps, "RUN")
                for command in run.split("&&") if command.split()[:2] == ["pip", "install"]]
    assert installs, "the Dockerfile installs nothing with pip"
    for install in installs:
        options = [part.replace(destination, str(context)) for part in install[2:]
                   if part != "--no-cache-dir"]
        result = subprocess.run([sys.executable, "-m", "pip", "--python", str(python),
                                 "install", "--quiet", *options],
                                capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stderr[-3000:]
    installed = subprocess.run([str(python), "-c", "import mockserver; print(mockserver.__file__)"],
                               capture_output=True, text=True, check=True, cwd=tmp_path).stdout
    assert installed.startswith(str(tmp_path / "venv"))

    port = str(free_port())
    (entrypoint,), (cmd,) = arguments_of(steps, "ENTRYPOINT"), arguments_of(steps, "CMD")
    command = [part.replace("8000", port) for part in json.loads(entrypoint) + json.loads(cmd)]
    assert command[:4] == ["mockserver", "serve", "--host", "0.0.0.0"]
    origin = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen([str(python.parent / command[0]), *command[1:]],
                                  stdout=subprocess.DEVNULL, stderr=log, cwd=tmp_path)
        try:
            wait_until_healthy(origin, server)
            (healthcheck,) = arguments_of(steps, "HEALTHCHECK")
            assert "/__admin/health" in healthcheck
            probe = json.loads(healthcheck.split(" CMD ", 1)[1])
            assert probe[0] == "python"
            checked = subprocess.run([str(python), *[p.replace("8000", port) for p in probe[1:]]],
                                     capture_output=True, text=True, timeout=30)
            assert checked.returncode == 0, checked.stderr
            assert requests.get(f"{origin}/__admin/fixtures", timeout=10).json()["uplift"]
            page = requests.get(f"{origin}/__admin/ui", timeout=10)
            assert page.status_code == 200 and "mockserver dashboard" in page.text
            script = requests.get(f"{origin}/__admin/ui/static/dashboard.js", timeout=10)
            assert script.status_code == 200 and "refresh" in script.text
        finally:
            server.terminate()
            server.wait(timeout=10)
        log.seek(0)
        assert b"pass --admin-token" in log.read()  # off loopback the admin API needs one


def readme_options(command: str) -> set[str]:
    """The options the README's usage block of ``command`` lists."""
    block = next(block for block in re.findall(r"```\w*\n(.*?)```", README, re.S)
                 if block.lstrip().startswith(command))
    return set(re.findall(r"--[a-z][a-z-]*", block))


def options_in(text: str, command: str) -> set[str]:
    """The options ``command`` is given in a shell text, over continued lines."""
    joined = text.replace("\\\n", " ")
    found: set[str] = set()
    for match in re.finditer(re.escape(command) + r"([^\n]*)", joined):
        found |= set(re.findall(r"--[a-z][a-z-]*", match.group(1)))
    return found


def test_the_workflow_parses_and_runs_the_readmes_commands_on_every_api():
    workflow = yaml.safe_load((REPO / "docs/ci/github-actions.yml").read_text())
    assert set(workflow.get("on", workflow.get(True))) == {"push", "pull_request"}
    (job,) = workflow["jobs"].values()
    matrix = {row["api"]: row["base"] for row in job["strategy"]["matrix"]["include"]}
    assert matrix == {api: load_contract(api).base_path for api in matrix}
    assert set(matrix) == {"captureproof", "mycrt", "biometricscloud", "uplift"}
    script = "\n".join(step.get("run", "") for step in job["steps"])
    assert "pip install ." in script
    assert options_in(script, "mockserver serve") <= readme_options("mockserver serve")
    used = options_in(script, "conformance run")
    assert {"--api", "--base-url", "--junit-xml"} <= used <= readme_options("conformance run")
    upload = next(step for step in job["steps"]
                  if step.get("uses", "").startswith("actions/upload-artifact@"))
    assert upload["if"] == "always()" and "reports/" in upload["with"]["path"]
    assert "--junit-xml reports/" in script


def test_the_compose_example_serves_the_image_and_runs_a_client_on_its_loopback():
    compose: dict[str, Any] = yaml.safe_load((REPO / "docs/ci/compose.yaml").read_text())
    mock, client = compose["services"]["mock"], compose["services"]["client"]
    assert (REPO / "docs/ci" / mock["build"] / "Dockerfile").resolve() == REPO / "Dockerfile"
    assert mock["command"][:3] == ["serve", "--host", "0.0.0.0"]
    assert set(o for o in mock["command"] if o.startswith("--")) <= readme_options(
        "mockserver serve")
    assert client["image"] == mock["image"] and client["network_mode"] == "service:mock"
    assert client["depends_on"]["mock"]["condition"] == "service_healthy"
    run = " ".join([*client["entrypoint"], *client["command"]])
    assert options_in(run, "conformance run") <= readme_options("conformance run")
    base_url = client["command"][client["command"].index("--base-url") + 1]
    assert base_url == "http://127.0.0.1:8000" + load_contract("uplift").base_path
