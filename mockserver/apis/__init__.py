"""One module per vendor API, each exposing ``API``: a :class:`mockserver.vendor.VendorApi`.

Modules load lazily so that ``--api NAME`` imports only what it serves.
"""

from __future__ import annotations

from importlib import import_module

from mockserver.vendor import VendorApi


def load_vendor(name: str) -> VendorApi:
    api: VendorApi = import_module(f"mockserver.apis.{name}").API
    return api
