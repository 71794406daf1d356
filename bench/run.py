"""``python -m bench [--quick] [--only SECTION]... [--load auto|wrk|python] [--no-prism]``

Runs the sections in order (start-up first, while nothing else of ours is running), writes
``bench/results/<section>.json`` (``bench/results/quick/`` for ``--quick``, so a smoke run
never overwrites the full figures), then ``summary.json`` and ``summary.md``, and prints the
targets with pass/fail. The exit status is 0 even when a target fails: these are
benchmarks, not tests; a section that could not run at all is the only error (status 1).
"""

from __future__ import annotations

import argparse
import datetime
import time
from collections.abc import Callable, Sequence
from typing import Any

from bench import common, report
from bench.config import Config
from bench.sections import (
    conformance_runs,
    conformance_speed,
    scale,
    startup,
    throughput,
    validation,
)

SECTIONS: dict[str, Callable[[Config], dict[str, Any]]] = {
    "startup": startup.run,
    "validation": validation.run,
    "throughput": throughput.run,
    "scale": scale.run,
    "conformance": conformance_speed.run,
    "conformance_runs": conformance_runs.run,
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench",
                                     description="Benchmarks of the mock; see bench/README.md")
    parser.add_argument("--quick", action="store_true",
                        help="1-2 minute smoke run (short loads, no 1 M records)")
    parser.add_argument("--only", action="append", choices=list(SECTIONS),
                        help="run only this section; repeatable (the summary keeps the rest)")
    parser.add_argument("--load", choices=["auto", "wrk", "python"], default="auto",
                        help="load generator (default: wrk when installed, else Python)")
    parser.add_argument("--no-prism", action="store_true", help="do not start Prism")
    return parser


def _results_dir(quick: bool) -> None:
    if quick:
        common.RESULTS = common.BENCH / "results" / "quick"


def _run_section(name: str, config: Config) -> bool:
    common.log(f"== {name}")
    started = time.perf_counter()
    try:
        result = SECTIONS[name](config)
        ok = True
    except Exception as error:  # one broken section must not lose the others' figures
        result, ok = {"error": f"{type(error).__name__}: {error}"[:500]}, False
        common.log(f"   {name} failed: {result['error']}")
    elapsed = round(time.perf_counter() - started, 1)
    common.write_result(name, {
        "section": name, "generated_at": datetime.datetime.now(datetime.UTC)
        .isoformat(timespec="seconds"), "quick": config.quick, "elapsed_seconds": elapsed,
        "machine": common.machine_facts(), "result": result})
    common.log(f"   {name}: {elapsed} s")
    return ok


def _write_summary() -> dict[str, Any]:
    results = {name: common.read_result(name) for name in SECTIONS}
    document = report.summary(results)
    common.write_result("summary", document)
    rows = report.all_rows(results)
    tables = ((report.throughput_table, "throughput"), (report.replicas_table, "throughput"),
              (report.validation_table, "validation"), (report.scale_table, "scale"),
              (report.conformance_runs_table, "conformance_runs"))
    details = "\n\n".join(table(report.section_result(results, name))
                           for table, name in tables) + "\n"
    markdown = (f"Measured with `{report.COMMAND}` ({_context(results)})\n\n"
                f"{report.markdown_table(rows)}\n\n{details}")
    (common.RESULTS / "summary.md").write_text(markdown)
    print(f"\n{details}\n{report.console_table(rows)}")
    print(f"\ntargets met: {document['passed']}, missed: {document['failed']} "
          f"(results in {common.RESULTS})")
    return document


def _context(results: dict[str, dict[str, Any] | None]) -> str:
    """When, with what load generator, and how busy the machine was: the figures' weather."""
    documents = [document for document in results.values() if document]
    if not documents:
        return "no results"
    loads = [document["machine"]["loadavg_1m"] for document in documents]
    tool = ((results.get("throughput") or {}).get("result") or {}).get("load_tool", "-")
    times = sorted({document["generated_at"][:16].replace("T", " ") for document in documents})
    last = times[-1][11:] if times[-1][:10] == times[0][:10] else times[-1]
    when = times[0] if len(times) == 1 else f"{times[0]} to {last}"  # --only: mixed
    return (f"{when} UTC, {documents[0]['machine']['cpus']} cores, "
            f"load generator {tool}, 1-minute load average {min(loads)}-{max(loads)} "
            f"at the sections' starts")


def main(argv: Sequence[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    _results_dir(arguments.quick)
    config = Config.make(arguments.quick, arguments.load, not arguments.no_prism)
    started = time.perf_counter()
    ok = all([_run_section(name, config) for name in SECTIONS
              if not arguments.only or name in arguments.only])
    common.log(f"== all sections: {time.perf_counter() - started:.0f} s")
    _write_summary()
    return 0 if ok else 1
