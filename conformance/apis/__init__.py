"""One adapter per API: what the suite must know beyond the spec (see session.Adapter)."""

from __future__ import annotations

from importlib import import_module

from conformance.session import Adapter


def load_adapter(name: str) -> Adapter:
    adapter: Adapter = import_module(f"conformance.apis.{name}").ADAPTER
    return adapter
