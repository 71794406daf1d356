"""The conformance CLI's outside: exit statuses, reports, determinism, the pytest plugin."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ElementTree

import pytest

from conftest import free_port, fresh, run_conformance


@pytest.fixture
def mock(mock_factory):
    return fresh(mock_factory, "uplift")


def conformance(*arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "conformance", *arguments],
                          capture_output=True, text=True, timeout=300)


def test_bad_usage_exits_2():
    assert conformance("run", "--api", "uplift").returncode == 2
    assert conformance("run", "--api", "nope", "--base-url", "http://x").returncode == 2


@pytest.mark.parametrize("seconds", ["0", "-5", "soon", "nan", "inf"])
def test_max_wait_must_be_a_positive_number_of_seconds(seconds):
    result = conformance("run", "--api", "mycrt", "--base-url", "http://x", "--max-wait",
                         seconds)
    assert result.returncode == 2
    assert "--max-wait" in result.stderr and "positive number of seconds" in result.stderr


def test_unreachable_target_exits_2_in_one_line():
    result = conformance("run", "--api", "uplift", "--base-url",
                         f"http://127.0.0.1:{free_port()}/v1")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr and result.stderr.startswith("conformance:")


def test_bad_profile_exits_2(tmp_path, mock):
    profile = tmp_path / "profile.yaml"
    profile.write_text("uplift:\n  primary: {api_key: k}\n")
    result = conformance("run", "--api", "uplift", "--base-url", mock.url("/v1"),
                         "--profile", str(profile))
    assert result.returncode == 2 and "uplift.primary lacks" in result.stderr


def test_reports_are_written_and_the_same_seed_gives_the_same_run(mock, tmp_path):
    junit = tmp_path / "junit.xml"
    first = run_conformance("uplift", mock.url("/v1"), tmp_path, "--seed", "7",
                            "--max-examples", "5", "--junit-xml", str(junit))
    mock.reset()
    second = run_conformance("uplift", mock.url("/v1"), tmp_path, "--seed", "7",
                             "--max-examples", "5")
    assert first.exit_status == second.exit_status == 0
    assert first.report["requests"] == second.report["requests"]
    assert first.report["checks"] == second.report["checks"]
    suite = ElementTree.parse(junit).getroot()
    assert suite.tag == "testsuite" and int(suite.get("tests")) == first.report["passed"]
    coverage = first.report["coverage"]
    assert coverage["operations_total"] == 3 and coverage["statuses_documented"] > 0
    assert "createCapture" in json.dumps(coverage["operations"])


def test_the_pytest_plugin_runs_the_suite_in_a_users_session(mock, tmp_path):
    test_file = tmp_path / "test_vendor.py"
    test_file.write_text(textwrap.dedent(f"""
        def test_uplift_conforms(conformance):
            results = conformance("uplift", "{mock.url('/v1')}", max_examples=3)
            assert results.counts[1] == 0
    """))
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                             str(test_file)], capture_output=True, text=True, timeout=300,
                            cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
