"""Targets against results: the pass/fail table printed at the end and kept in the README.

It reads the section JSON files, not live objects, so ``--only SECTION`` re-measures one
section and the summary still covers the others from their last run (each row says when).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from bench.operations import OPERATIONS

MIB_TO_MB = 1.048576
COMMAND = "python -m bench"


@dataclass
class Row:
    target: str
    measured: str
    wanted: str
    verdict: str  # pass | FAIL | n/a


def _verdict(value: float | None, ok: bool) -> str:
    return "n/a" if value is None else ("pass" if ok else "FAIL")


def _at_least(target: str, value: float | None, bound: float, unit: str = "x") -> Row:
    shown = "not measured" if value is None else f"{value:.2f}{unit}"
    return Row(target, shown, f">= {bound}{unit}", _verdict(value, (value or 0) >= bound))


def _at_most(target: str, value: float | None, bound: float, unit: str) -> Row:
    shown = "not measured" if value is None else f"{value:.2f} {unit}".rstrip()
    return Row(target, shown, f"<= {bound} {unit}".rstrip(),
               _verdict(value, value is not None and value <= bound))


def throughput_rows(result: dict[str, Any] | None) -> list[Row]:
    rows: list[Row] = []
    operations = (result or {}).get("operations", {})
    for operation in OPERATIONS:
        outcome = operations.get(operation.key, {})
        ratios = outcome.get("ratios", {})
        rows.append(_at_least(f"{operation.label}: mock / Prism req/s",
                              ratios.get("mock_vs_prism"), 1.2))
        rows.append(_at_least(f"{operation.label}: mock / bare Flask req/s",
                              ratios.get("mock_vs_bare_flask"), 0.6))
        rows.append(_p99_within_prism(operation.label, outcome))
    return rows


def _p99_within_prism(label: str, outcome: dict[str, Any]) -> Row:
    """The mock's p99 at 32 connections against Prism's, measured in the same run."""
    mine = outcome.get("mock", {}).get("p99_ms")
    prism = outcome.get("prism", {}).get("p99_ms")
    target = f"{label}: mock p99 at 32 connections"
    if mine is None or prism is None:
        return Row(target, "not measured" if mine is None else f"{mine:.2f} ms",
                   "<= Prism's p99", "n/a")
    return Row(target, f"{mine:.2f} ms", f"<= Prism's {prism:.2f} ms",
               "pass" if mine <= prism else "FAIL")


def startup_rows(startup: dict[str, Any] | None, throughput: dict[str, Any] | None) -> list[Row]:
    memory = (startup or {}).get("memory", {})
    after_start = memory.get("max_pss_mib")
    after_load = ((throughput or {}).get("memory_after_load", {}).get("mock", {}).get("*", {})
                  .get("pss_mib"))
    return [
        _at_most("start-up to first /__admin/health 200 (best of runs)",
                 memory.get("best_ready_s"), 1, "s"),
        _at_most("resident memory (PSS) after start-up", _mb(after_start), 150, "MB"),
        _at_most("resident memory (PSS) after the throughput run", _mb(after_load), 150, "MB"),
    ]


def _mb(mib: float | None) -> float | None:
    return None if mib is None else mib * MIB_TO_MB


def scale_rows(result: dict[str, Any] | None) -> list[Row]:
    rows = []
    slowdowns = (result or {}).get("slowdown_vs_smallest", {})
    smallest = (result or {}).get("smallest", 100)
    for store in ("memory", "sqlite"):
        ratios = slowdowns.get(store, {})
        largest = max((int(key.split("@")[1]) for key in ratios), default=None)
        for page, label in (("first_page", "first page"), ("deep_page", "page after mid id")):
            value = ratios.get(f"{page}@{largest}") if largest else None
            size = f"{largest:,}" if largest else "1,000,000"
            rows.append(_at_most(f"{store}: {label} at {size} / at {smallest} records",
                                 value, 1.5, "x"))
    return rows


def conformance_rows(result: dict[str, Any] | None) -> list[Row]:
    ours = (result or {}).get("conformance", {})
    theirs = (result or {}).get("schemathesis", {})
    return [Row("conformance suite test cases/s (Uplift)",
                f"{ours.get('test_cases_per_second', 'n/a')}/s", "(no target)", "n/a"),
            Row("Schemathesis test cases/s, same spec and server",
                f"{theirs.get('test_cases_per_second', theirs.get('unavailable', 'n/a'))}/s",
                "(no target)", "n/a"),
            Row("conformance / Schemathesis test cases/s",
                _ratio_text((result or {}).get("conformance_vs_schemathesis")), "(no target)",
                "n/a")]


API_LABELS = {"uplift": "Uplift", "mycrt": "MyCRT", "biometricscloud": "Biometrics Cloud",
              "captureproof": "CaptureProof"}


def conformance_run_rows(result: dict[str, Any] | None) -> list[Row]:
    """Issue 10: a default run per API under 30 s on the mock, under 3 minutes on a
    server without a clock (time-based checks wait in real time, --max-wait 60)."""
    apis = (result or {}).get("apis", {})
    rows = []
    for api, label in API_LABELS.items():
        runs = apis.get(api, {})
        rows.append(_at_most(f"{label}: default conformance run against the mock",
                             runs.get("mock", {}).get("wall_seconds"), 30, "s"))
        rows.append(_at_most(f"{label}: default run, server without a clock (strict variant)",
                             runs.get("strict", {}).get("wall_seconds"), 180, "s"))
    return rows


def conformance_runs_table(result: dict[str, Any] | None) -> str:
    """Each default run: time, exit status, requests, findings and what it could not run."""
    if not result:
        return "(conformance runs not measured)"
    def row(api: str, target: str, run: dict[str, Any]) -> tuple[object, ...]:
        return (API_LABELS.get(api, api), target, run.get("wall_seconds", "-"),
                run.get("exit_status", run.get("error", "-")), run.get("requests", "-"),
                ", ".join(run.get("violations", [])) or "none",
                "; ".join(run.get("not_run", [])) or "none")

    return _markdown(("API", "target", "wall s", "exit", "requests", "violations", "not run"),
                     (row(api, target, runs.get(target, {}))
                      for api, runs in result.get("apis", {}).items()
                      for target in ("mock", "strict")))


def _ratio_text(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.2f}x"


def section_result(results: dict[str, dict[str, Any] | None], name: str) -> dict[str, Any] | None:
    """A section's figures from its JSON document, or None when it never ran."""
    return (results.get(name) or {}).get("result")


def all_rows(results: dict[str, dict[str, Any] | None]) -> list[Row]:
    def section(name: str) -> dict[str, Any] | None:
        return section_result(results, name)

    return [*throughput_rows(section("throughput")),
            *startup_rows(section("startup"), section("throughput")),
            *scale_rows(section("scale")), *conformance_rows(section("conformance")),
            *conformance_run_rows(section("conformance_runs"))]


def _markdown(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    lines = [f"| {' | '.join(header)} |", f"|{'---|' * len(header)}"]
    lines += [f"| {' | '.join(map(str, row))} |" for row in rows]
    return "\n".join(lines)


def markdown_table(rows: list[Row]) -> str:
    return _markdown(("target", "measured", "wanted", "verdict"),
                     ((row.target, row.measured, row.wanted, row.verdict) for row in rows))


def throughput_table(result: dict[str, Any] | None) -> str:
    """Requests per second and latency of every target, one row per operation."""
    if not result:
        return "(throughput not measured)"
    def row(key: str, outcome: dict[str, Any]) -> tuple[object, ...]:
        mock, two, bare, prism = (outcome.get(name, {}) for name in
                                  ("mock", "mock-2w", "bare-flask", "prism"))
        return (outcome.get("label", key), _rps(mock), mock.get("p50_ms", "-"),
                mock.get("p99_ms", "-"), _rps(two), two.get("p99_ms", "-"), _rps(bare),
                bare.get("p99_ms", "-"), _rps(prism), prism.get("p99_ms", "-"))

    return _markdown(("operation", "mock req/s", "p50 ms", "p99 ms",
                      "mock --workers 2 req/s", "p99 ms", "bare Flask req/s",
                      "bare Flask p99 ms", "Prism req/s", "Prism p99 ms"),
                     (row(key, outcome) for key, outcome in result.get("operations", {}).items()))


def replicas_table(result: dict[str, Any] | None) -> str:
    """The mock on PostgreSQL, one replica and two sharing a database, beside the default."""
    if not result:
        return "(replicas not measured)"
    def row(key: str, outcome: dict[str, Any]) -> tuple[object, ...]:
        mock, one, two = (outcome.get(name, {}) for name in
                          ("mock", "mock-postgresql", "mock-postgresql-2r"))
        ratios = outcome.get("ratios", {})
        return (outcome.get("label", key), _rps(mock), _rps(one), one.get("p99_ms", "-"),
                _rps(two), two.get("p99_ms", "-"),
                _ratio_text(ratios.get("mock_postgresql_2r_vs_1r")))

    return _markdown(("operation", "mock (memory) req/s", "PostgreSQL 1 replica req/s",
                      "p99 ms", "PostgreSQL 2 replicas req/s", "p99 ms", "2 / 1 replicas"),
                     (row(key, outcome) for key, outcome in result.get("operations", {}).items()))


def validation_table(result: dict[str, Any] | None) -> str:
    """Microseconds per request in process (median), and the validator's share of it."""
    if not result:
        return "(validation cost not measured)"
    def row(key: str, outcome: dict[str, Any]) -> tuple[object, ...]:
        whole = outcome.get("full_request", {}).get("median_us")
        validator = outcome.get("mock_validator", {}).get("median_us")
        share = f"{validator / whole:.0%}" if whole and validator else "-"
        return (outcome.get("label", key), _us(outcome, "full_request"),
                _us(outcome, "bare_flask_request"), _us(outcome, "mock_validator"),
                _us(outcome, "openapi_core_unmarshal"), share)

    return _markdown(("operation", "whole request, mock (µs)", "whole request, bare Flask (µs)",
                      "mock's validator (µs)", "openapi-core unmarshal (µs)", "validator share"),
                     (row(key, outcome) for key, outcome in result.get("operations", {}).items()))


def _us(outcome: dict[str, Any], name: str) -> str:
    cell = outcome.get(name, {})
    if "median_us" in cell:
        return f"{cell['median_us']:.0f}"
    return "error" if "error" in cell else "-"


def scale_table(result: dict[str, Any] | None) -> str:
    """Median milliseconds per page of 10 at each size, and the cost of filling the store."""
    if not result:
        return "(scale not measured)"
    def row(run: dict[str, Any]) -> tuple[object, ...]:
        if "error" in run:
            return (run["store"], f"{run['records']:,}", f"error: {str(run['error'])[:80]}",
                    "", "", "", "")
        return (run["store"], f"{run['records']:,}", f"{run['first_page']['median_ms']:.2f}",
                f"{run['deep_page']['median_ms']:.2f}",
                f"{_handler(run['first_page'])} / {_handler(run['deep_page'])}",
                f"{run['build_seconds']:.1f}", f"{run['rss_mib'] * MIB_TO_MB:.0f}")

    return _markdown(("store", "records", "first page (ms)", "page after mid id (ms)",
                      "both, less the journal write (ms)", "fill time (s)", "process RSS (MB)"),
                     map(row, result.get("scenarios", [])))


def _handler(page: dict[str, Any]) -> str:
    value = page.get("handler_median_ms")
    return "-" if value is None else f"{value:.2f}"


def _rps(cell: dict[str, Any]) -> str:
    if "rps" in cell:
        return f"{cell['rps']:.0f}"
    return "n/a" if cell.get("unavailable") else "-"


def console_table(rows: list[Row]) -> str:
    width = max(len(row.target) for row in rows)
    measured = max(len(row.measured) for row in rows)
    wanted = max(len(row.wanted) for row in rows)
    return "\n".join(f"{row.target:<{width}}  {row.measured:>{measured}}  "
                     f"{row.wanted:<{wanted}}  {row.verdict}" for row in rows)


def summary(results: dict[str, dict[str, Any] | None]) -> dict[str, Any]:
    rows = all_rows(results)
    return {"command": COMMAND, "rows": [asdict(row) for row in rows],
            "passed": sum(row.verdict == "pass" for row in rows),
            "failed": sum(row.verdict == "FAIL" for row in rows),
            "sections": {name: {"generated_at": document.get("generated_at"),
                                "quick": document.get("quick"),
                                "elapsed_seconds": document.get("elapsed_seconds")}
                         for name, document in results.items() if document}}
