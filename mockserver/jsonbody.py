"""JSON answers, written by orjson: a few times faster than ``json`` for the mock's bodies,
which every request pays for. What orjson refuses and ``json`` writes (integers past 64
bits, strings with a lone surrogate) still goes through ``json``, so no answer changes
but for its spacing."""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(value).encode()
