"""Scale: Biometrics Cloud list and paginate at 100, 10 000 and 1 000 000 stored records.

Each (store, size) runs in its own process (``python -m bench.sections.scale memory N``), so
its resident memory is its own and a million records leave nothing behind. The mock is
built as ``mockserver serve`` builds it (``build_mock`` + fixtures), the records are added
straight through the store API (one transaction for SQLite), and the pages are timed through
the Flask test client: ``GET /api/v1/files?limit=10``, then the page after the middle id
(``offset``), the keyset cursor a client follows deep into the list.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from bench.common import PYTHON, ROOT, WORK, log, rss_kib
from bench.config import Config

TENANT, USER = 1, 1  # the primary tenant of fixtures/default.yaml and its user
TOKEN = "VSvXrNLlQCeCdTJjGUJgKw"
FIRST_ID = 1001  # above every fixture id
LIMIT = 10


def _records(count: int) -> Iterator[dict[str, Any]]:
    for offset in range(count):
        record_id = FIRST_ID + offset
        yield {"id": record_id, "uuid": f"00000000-0000-4000-8000-{record_id:012d}",
               "tenant_id": TENANT, "user_id": USER, "description": f"bench record {record_id}",
               "type": 1 + record_id % 5, "state": 1,
               "created_time": "2024-01-01T00:00:00.000000+00:00",
               "file_name": f"scan-{record_id}.png",
               "object_key": f"tenant/{TENANT}/private/uploads/bench-{record_id}.png"}


def _fill(store: Any, kind: str, count: int) -> None:
    """Bulk insert through ``put``: the store's own layout, whatever it is today."""
    from mockserver.apis import biometricscloud

    key_of: Callable[[int], str] = getattr(biometricscloud, "record_key", str)
    records = biometricscloud.RECORDS
    if kind == "sqlite":
        with store.transaction():
            for record in _records(count):
                store.put(records, key_of(record["id"]), record)
    else:
        for record in _records(count):
            store.put(records, key_of(record["id"]), record)
    store.raise_counter(biometricscloud.RECORD_COUNTER, FIRST_ID + count)


def _build(kind: str, count: int) -> tuple[Any, float]:
    from mockserver.app import Settings, build_mock, create_app
    from mockserver.store import open_store

    state = "memory"
    if kind == "sqlite":
        path = WORK / f"scale-{count}.db"
        for suffix in ("", "-wal", "-shm"):
            path.with_name(path.name + suffix).unlink(missing_ok=True)
        state = f"sqlite:{path}"
    settings = Settings(apis=("biometricscloud",), state=state)
    started = time.perf_counter()
    mock = build_mock(settings, store=open_store(state))
    mock.seed_if_empty()
    _fill(mock.services.store, kind, count)
    return create_app(settings, mock), time.perf_counter() - started


def _page_timer(client: Any, query: str) -> Callable[[], None]:
    def fetch() -> None:
        response = client.get(f"/api/v1/files?{query}",
                              headers={"Authorization": f"Bearer {TOKEN}"})
        body = response.get_json()
        if response.status_code != 200 or body.get("count") != LIMIT:
            raise RuntimeError(f"{query}: {response.status_code} {str(body)[:200]}")

    return fetch


def _time_page(fetch: Callable[[], None]) -> dict[str, Any]:
    """Median of repeated fetches: many when a fetch is fast, at least two when it is slow."""
    started = time.perf_counter()
    fetch()
    first = time.perf_counter() - started
    samples = [] if first < 0.5 else [first]
    budget_ends = time.perf_counter() + (1.0 if first < 0.5 else 2 * first)
    while len(samples) < 200 and (len(samples) < 3 or time.perf_counter() < budget_ends):
        started = time.perf_counter()
        fetch()
        samples.append(time.perf_counter() - started)
        if first >= 0.5 and len(samples) >= 2:
            break
    return {"median_ms": round(statistics.median(samples) * 1000, 3), "fetches": len(samples)}


def _journal_ms(client: Any) -> dict[str, float]:
    """The mock's own time per listing (journal ``duration_ms``: routing to response),
    which leaves out writing the journal entry itself, an fsync'd write on SQLite."""
    entries = client.get("/__admin/requests").get_json()["requests"]
    by_query: dict[str, list[float]] = {}
    for entry in entries:
        if entry["path"] == "/api/v1/files":
            page = "deep_page" if "offset=" in entry["query"] else "first_page"
            by_query.setdefault(page, []).append(entry["duration_ms"])
    return {page: round(statistics.median(times), 3) for page, times in by_query.items()}


def measure(kind: str, count: int) -> dict[str, Any]:
    app, build_seconds = _build(kind, count)
    client = app.test_client()
    middle = FIRST_ID + count // 2
    first = _time_page(_page_timer(client, f"limit={LIMIT}"))
    deep = _time_page(_page_timer(client, f"limit={LIMIT}&offset={middle}"))
    handled = _journal_ms(client)
    first["handler_median_ms"] = handled.get("first_page")
    deep["handler_median_ms"] = handled.get("deep_page")
    return {"store": kind, "records": count, "build_seconds": round(build_seconds, 2),
            "rss_mib": round(rss_kib_self() / 1024, 1), "first_page": first, "deep_page": deep}


def rss_kib_self() -> int:
    import os

    return rss_kib(os.getpid())


def _scenario(kind: str, count: int, timeout: float) -> dict[str, Any]:
    log(f"  scale: {kind} with {count:,} records")
    started = time.perf_counter()
    try:
        completed = subprocess.run([PYTHON, "-m", "bench.sections.scale", kind, str(count)],
                                   cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                                   check=False)
    except subprocess.TimeoutExpired:
        return {"store": kind, "records": count, "error": f"over {timeout:.0f} s"}
    finally:
        for suffix in ("", "-wal", "-shm"):
            (WORK / f"scale-{count}.db{suffix}").unlink(missing_ok=True)
    if completed.returncode != 0:
        return {"store": kind, "records": count, "error": completed.stderr[-400:]}
    result: dict[str, Any] = json.loads(completed.stdout)
    result["wall_seconds"] = round(time.perf_counter() - started, 1)
    return result


def _slowdowns(scenarios: list[dict[str, Any]]) -> dict[str, dict[str, float | None]]:
    """Each page's time at every size over its time at the smallest size, per store."""
    ratios: dict[str, dict[str, float | None]] = {}
    for kind in ("memory", "sqlite"):
        runs = sorted((run for run in scenarios if run["store"] == kind and "error" not in run),
                      key=lambda run: run["records"])
        if not runs:
            continue
        smallest = runs[0]
        for run in runs[1:]:
            for page in ("first_page", "deep_page"):
                base = smallest[page]["median_ms"]
                ratios.setdefault(kind, {})[f"{page}@{run['records']}"] = (
                    round(run[page]["median_ms"] / base, 2) if base else None)
    return ratios


def run(config: Config) -> dict[str, Any]:
    WORK.mkdir(parents=True, exist_ok=True)
    scenarios = [_scenario(kind, count, timeout=600)
                 for kind in ("memory", "sqlite") for count in config.scale_sizes]
    return {"page_limit": LIMIT, "scenarios": scenarios, "slowdown_vs_smallest":
            _slowdowns(scenarios), "smallest": min(config.scale_sizes)}


if __name__ == "__main__":
    print(json.dumps(measure(sys.argv[1], int(sys.argv[2]))))
