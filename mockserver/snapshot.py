"""What the mock holds, per API and kind of resource: ``GET /__admin/state`` and the
dashboard's state view.

It reads through the store like any handler, so it shows the same state on every
backend and worker. Each kind lists at most ``limit`` resources in the store's order (a
million records stay a page), and says whether there are more.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mockserver.store import StateStore
from mockserver.vendor import VendorApi

DEFAULT_LIMIT = 50
MAX_LIMIT = 1000


def snapshot(store: StateStore, vendors: Mapping[str, VendorApi],
             limit: int = DEFAULT_LIMIT) -> dict[str, Any]:
    """``{"apis": {api: {kind: {"items": [{"key", "document"}], "more": bool}}}}``, the
    kind without its ``<api>.`` prefix."""
    return {"apis": {name: {_short(name, kind): _kind(store, kind, limit)
                            for kind in vendor.kinds}
                     for name, vendor in vendors.items()}}


def _kind(store: StateStore, kind: str, limit: int) -> dict[str, Any]:
    keys = list(store.iter_keys(kind, limit + 1))
    items = []
    for key in keys[:limit]:
        document = store.get(kind, key)
        if document is not None:  # deleted between the two reads
            items.append({"key": key, "document": document})
    return {"items": items, "more": len(keys) > limit}


def _short(api: str, kind: str) -> str:
    return kind.removeprefix(f"{api}.")

