"""Run settings shared by every section: full (about 10 minutes) or ``--quick`` (1-2)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Config:
    quick: bool = False
    load_tool: str = "auto"  # auto | wrk | python
    prism: bool = True
    #: measured seconds per (operation, target), split into interleaved rounds
    seconds: float = 10.0
    warmup: float = 2.0
    rounds: int = 5
    #: the mock with --workers 2 (a private SQLite state) beside the default
    two_workers: bool = True
    #: the mock on PostgreSQL, one replica and two (a throwaway cluster, tests/pgcluster.py)
    postgresql: bool = True
    #: in-process validation: requests timed per operation
    validation_requests: int = 400
    scale_sizes: tuple[int, ...] = (100, 10_000, 1_000_000)
    startup_repeats: int = 3
    conformance_examples: int = 20

    @classmethod
    def make(cls, quick: bool, load_tool: str, prism: bool) -> Config:
        if not quick:
            return cls(load_tool=load_tool, prism=prism)
        return cls(quick=True, load_tool=load_tool, prism=prism, seconds=2.0, warmup=0.5,
                   rounds=1, two_workers=False, postgresql=False,
                   validation_requests=60,
                   scale_sizes=(100, 10_000), startup_repeats=1, conformance_examples=3)
