"""Seed data: read, checked against each vendor's fixture schema, then seeded.

A bad file must stop the server at start with one line that names the problem, so the
file is also seeded once into a scratch memory store: references that do not resolve
(an environment member who is no user, say) fail there, before anything is served.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, cast

import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match

from mockserver.clock import Clock
from mockserver.objectstore import ObjectStore
from mockserver.store import StateStore
from mockserver.store.memory import MemoryStore
from mockserver.vendor import Services, VendorApi

OBJECT_STORE_SCHEMA = {
    "type": "object",
    "required": ["access_key_id", "secret_access_key"],
    "properties": {
        "access_key_id": {"type": "string", "minLength": 1},
        "secret_access_key": {"type": "string", "minLength": 1},
    },
    "additionalProperties": False,
}


class FixturesError(ValueError):
    pass


def default_fixtures_text() -> str:
    bundled = resources.files("mockserver.bundled_fixtures")
    return bundled.joinpath("default.yaml").read_text("utf-8")


def load_fixtures(path: str | None, vendors: Mapping[str, VendorApi]) -> dict[str, Any]:
    label = path or "the bundled fixtures/default.yaml"
    try:
        text = Path(path).read_text("utf-8") if path else default_fixtures_text()
        fixtures = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError) as error:
        raise FixturesError(f"cannot read fixtures {label}: {error}") from None
    except yaml.YAMLError as error:
        raise FixturesError(f"fixtures {label} is not valid YAML: {_one_line(error)}") from None
    _check_schema(fixtures, vendors, label)
    _dry_run(fixtures, vendors, label)
    return cast("dict[str, Any]", fixtures)  # _check_schema: a mapping


def object_store_for(store: StateStore, clock: Clock, fixtures: Mapping[str, Any]) -> ObjectStore:
    keys = fixtures["object_store"]
    return ObjectStore(store, clock, keys["access_key_id"], keys["secret_access_key"])


def seed(services: Services, fixtures: Mapping[str, Any], vendors: Mapping[str, VendorApi]) -> None:
    for name, vendor in vendors.items():
        vendor.seed(services, fixtures.get(name, {}))


def _check_schema(fixtures: Any, vendors: Mapping[str, VendorApi], label: str) -> None:
    schema = {
        "type": "object",
        "required": ["object_store", *vendors],
        "properties": {"object_store": OBJECT_STORE_SCHEMA,
                       **{name: vendor.fixture_schema for name, vendor in vendors.items()}},
    }
    error = best_match(Draft202012Validator(schema).iter_errors(fixtures))
    if error is not None:
        where = ".".join(str(part) for part in error.absolute_path) or "top level"
        raise FixturesError(f"fixtures {label}: {where}: {error.message}")


def _dry_run(fixtures: Mapping[str, Any], vendors: Mapping[str, VendorApi], label: str) -> None:
    scratch = MemoryStore()
    clock = Clock(scratch)
    try:
        services = Services(scratch, clock, object_store_for(scratch, clock, fixtures))
        seed(services, fixtures, vendors)
    except FixturesError as error:
        raise FixturesError(f"fixtures {label}: {error}") from None


def _one_line(error: Exception) -> str:
    return " ".join(str(error).split())
