"""Biometrics Cloud: a tenant's medical records, each a base64 upload kept in the object store.

Bearer tokens (fixed ones from the fixtures, or issued by ``POST /login`` for 24 hours of mock
time) belong to a user of one tenant; every record belongs to a tenant, and a record of another
tenant answers exactly like a missing one (404), so ids never leak across tenants. Files live
in the mock's S3 and are handed out as SigV4 presigned GET URLs signed afresh on every create,
retrieve and update, valid 900 s of mock time. Delete archives (state 2) instead of erasing, so
an archived record still anchors a pagination cursor.
"""

from __future__ import annotations

import base64
import hmac
import itertools
import mimetypes
import secrets
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Request

from mockserver.apis._common import bearer_token, uuid_schema
from mockserver.clock import isoformat, parse_datetime, utc
from mockserver.fixtures import FixturesError
from mockserver.validation import Problem
from mockserver.vendor import ApiError, Call, Reply, Services, VendorApi, registry

BUCKET = "biometricscloud-records"
#: the document's note: "file_url will only be valid for 15 minutes"
URL_LIFETIME_SECONDS = 900
TOKEN_LIFETIME = timedelta(hours=24)
#: the vendor's refresh answer: ``expires_in: 3600``
REFRESHED_LIFETIME = timedelta(seconds=3600)
VERSION = "BiometricsCloud Backend v1.0"
DEFAULT_LIMIT, DEFAULT_SORT_FIELD, DEFAULT_SORT_ORDER = 100, "id", "asc"
ACTIVE, ARCHIVED = 1, 2

NOT_AUTHENTICATED = "Authentication credentials were not provided."
INVALID_TOKEN = "Invalid token."
BAD_LOGIN = "Unable to log in with provided credentials."
BAD_REFRESH = "Invalid refresh token."
NOT_FOUND = "Not found."
INVALID_BASE64 = "upload_content is not valid base64."
VALIDATION_FAILED = "Request validation failed."
TOO_LARGE = "Request body too large."

TENANTS, USERS, TOKENS, RECORDS = (
    "biometricscloud.tenant", "biometricscloud.user", "biometricscloud.token",
    "biometricscloud.record",
)
#: refresh token -> {access_token, tenant_id, user_id}; each is used once
REFRESH_TOKENS = "biometricscloud.refresh_token"
RECORD_COUNTER = "biometricscloud.record_id"

#: list entries show exactly these fields (FileSummary is closed)
SUMMARY_FIELDS = ("id", "uuid", "tenant_id", "user_id", "description", "type", "state",
                  "created_time", "file_name")
#: update body field -> record field
UPDATABLE = {"description": "description", "type": "type", "upload_filename": "file_name"}
#: keyset ordering is (sort key, id); created_time compares as an instant, not as text
SORT_KEYS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "id": lambda record: record["id"],
    "created_time": lambda record: parse_datetime(record["created_time"]),
    "description": lambda record: record["description"],
    "file_name": lambda record: record["file_name"],
    "type": lambda record: record["type"],
}

_CODES_BY_MESSAGE = {NOT_AUTHENTICATED: "not_authenticated",
                     INVALID_TOKEN: "authentication_failed", BAD_LOGIN: "invalid_credentials",
                     BAD_REFRESH: "token_not_valid"}
_CODES_BY_STATUS = {400: "invalid", 401: "not_authenticated", 403: "permission_denied",
                    404: "not_found", 405: "method_not_allowed", 413: "payload_too_large",
                    415: "unsupported_media_type", 429: "throttled"}
#: 400 messages of this module that are the detail themselves, not a schema failure
_OWN_400_MESSAGES = {INVALID_BASE64}
_PARAMETER_LOCATIONS = {"body", "query", "path", "header", "cookie"}

handlers, operation = registry()


@dataclass(frozen=True)
class Principal:
    tenant_id: int
    user_id: int


# -- errors and credentials -------------------------------------------------------------


def error_body(status: int, message: str, problems: list[Problem]) -> dict[str, Any]:
    """The spec's one Error shape: DRF-like ``detail`` + ``code`` (+ per-field ``errors``)."""
    body: dict[str, Any] = {
        "detail": _detail_message(status, message, problems),
        "code": _CODES_BY_MESSAGE.get(message) or _CODES_BY_STATUS.get(status, "error"),
    }
    if problems:
        body["errors"] = _field_errors(problems)
    return body


def _detail_message(status: int, message: str, problems: list[Problem]) -> str:
    """Schema failures share one headline (the fields say what broke); a 413 from the engine
    or from werkzeug's streamed-body limit reads the same as the documented one."""
    if status == 413:
        return TOO_LARGE
    if status == 400 and problems and message not in _OWN_400_MESSAGES:
        return VALIDATION_FAILED
    return message


def _field_errors(problems: Iterable[Problem]) -> dict[str, list[str]]:
    """``body.type`` / ``query.limit`` -> ``type`` / ``limit``, as the spec's examples name
    fields; a problem with the body as a whole goes under DRF's ``non_field_errors``."""
    errors: dict[str, list[str]] = {}
    for problem in problems:
        location, _, rest = problem.field.partition(".")
        name = rest if location in _PARAMETER_LOCATIONS else problem.field
        errors.setdefault(name or "non_field_errors", []).append(problem.message)
    return errors


def authenticate(call: Call, required: bool) -> Principal | None:
    """Public calls (login, version, refresh) ignore any bearer header: a client refreshing
    still sends its access token, which the refresh itself has to outlive."""
    if not required:
        return None
    token = bearer_token(call.request)
    if token is None:
        raise ApiError(401, NOT_AUTHENTICATED)
    grant = call.services.store.get(TOKENS, token)
    if grant is None or _expired(grant, call):
        raise ApiError(401, INVALID_TOKEN)
    return Principal(grant["tenant_id"], grant["user_id"])


def _expired(grant: Mapping[str, Any], call: Call) -> bool:
    """Fixture tokens never expire (the document's samples must keep working); issued ones
    expire by the mock clock."""
    expires_at = grant.get("expires_at")
    return expires_at is not None and call.services.clock.now() >= parse_datetime(expires_at)


def credential(request: Request) -> str | None:
    return bearer_token(request)


# -- operations -------------------------------------------------------------------------


@operation("login")
def login(call: Call) -> Reply:
    store, body = call.services.store, call.body
    user = store.get(USERS, body["username"])
    if user is None or not hmac.compare_digest(user["password"].encode(),
                                               body["password"].encode()):
        raise ApiError(401, BAD_LOGIN)
    expiry = call.services.clock.now() + TOKEN_LIFETIME
    access, refresh = _issue(call.services, user["tenant_id"], user["id"], expiry)
    return Reply(200, {"username": body["username"], "tenant_id": user["tenant_id"],
                       **user_profile(user),
                       "access_token": access, "token_type": "Bearer",
                       "refresh_token": refresh, "expiry": isoformat(expiry),
                       "user_id": user["id"]})


@operation("refreshToken")
def refresh_token(call: Call) -> Reply:
    """Rotation: the refresh token and the access token it came with both stop working."""
    store = call.services.store
    grant = store.get(REFRESH_TOKENS, call.body["refresh_token"])
    if grant is None:
        raise ApiError(401, BAD_REFRESH)
    store.delete(REFRESH_TOKENS, call.body["refresh_token"])
    store.delete(TOKENS, grant["access_token"])
    expiry = call.services.clock.now() + REFRESHED_LIFETIME
    access, refresh = _issue(call.services, grant["tenant_id"], grant["user_id"], expiry)
    return Reply(200, {"access_token": access,
                       "expires_in": int(REFRESHED_LIFETIME.total_seconds()),
                       "refresh_token": refresh, "scope": "all", "token_type": "Bearer"})


@operation("getVersion")
def get_version(call: Call) -> Reply:
    return Reply(200, VERSION, content_type="text/plain")


def _issue(services: Services, tenant_id: int, user_id: int,
           expiry: datetime) -> tuple[str, str]:
    """A fresh access token (expiring at ``expiry``) and the refresh token that replaces it."""
    access, refresh = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    services.store.put(TOKENS, access, {"tenant_id": tenant_id, "user_id": user_id,
                                        "expires_at": isoformat(expiry)})
    services.store.put(REFRESH_TOKENS, refresh, {"access_token": access,
                                                 "tenant_id": tenant_id, "user_id": user_id})
    return access, refresh


@operation("createFile")
def create_file(call: Call) -> Reply:
    body, principal = call.body, call.principal
    try:
        content = decode_base64(body["upload_content"])
    except ValueError:
        raise ApiError(400, INVALID_BASE64,
                       [Problem("body.upload_content", INVALID_BASE64)]) from None
    record = _save(call.services, content, {
        "id": _next_record_id(call.services), "uuid": str(uuid.uuid4()),
        "tenant_id": principal.tenant_id, "user_id": principal.user_id,
        "description": body["description"], "type": body["type"], "state": ACTIVE,
        "created_time": utc(call.services.clock.now()).isoformat(timespec="microseconds"),
        "file_name": body["upload_filename"],
    })
    return Reply(200, _detail(call, record))


def record_key(record_id: int) -> str:
    """Zero-padded, so the store's key order is id order and a page by id is a keyset scan."""
    return f"{int(record_id):012d}"


@operation("listFiles")
def list_files(call: Call) -> Reply:
    query = call.query
    descending = query.get("sort_order", DEFAULT_SORT_ORDER) == "desc"
    limit = query.get("limit", DEFAULT_LIMIT)
    offset = query.get("offset") or None  # 0, the default, is the first page in either order
    if query.get("sort_field", DEFAULT_SORT_FIELD) == "id":
        page = _page_by_id(call, descending, offset, limit)
    else:
        page = _page_by_field(call, SORT_KEYS[query["sort_field"]], descending, offset, limit)
    return Reply(200, {"next_id": page[-1]["id"] if page else None, "count": len(page),
                       "results": [{name: record[name] for name in SUMMARY_FIELDS}
                                   for record in page]})


@operation("retrieveFile")
def retrieve_file(call: Call) -> Reply:
    return Reply(200, _detail(call, _active_record(call)))


@operation("updateFile")
def update_file(call: Call) -> Reply:
    body = call.body
    changes = {UPDATABLE[name]: value for name, value in body.items() if name in UPDATABLE}
    record = {**_active_record(call), **changes}
    call.services.store.put(RECORDS, record_key(record["id"]), record)
    return Reply(200, _detail(call, record))


@operation("deleteFile")
def delete_file(call: Call) -> Reply:
    record = {**_active_record(call), "state": ARCHIVED}
    call.services.store.put(RECORDS, record_key(record["id"]), record)
    return Reply(204, has_body=False)


# -- records ----------------------------------------------------------------------------


def decode_base64(text: str) -> bytes:
    """Standard base64 with optional padding: the document's own sample sends "xyz" (two
    bytes, unpadded). Whatever padding came is dropped and the right amount restored; a
    length that leaves one lone character encodes no whole byte, so it is refused. A Data
    URI (``data:<type>;base64,...``, the vendor's own convention on its photo-samples pages
    and in its device client) carries the same base64 after its comma."""
    if text.startswith("data:"):
        header, _, text = text.partition(",")
        if not header.endswith(";base64"):
            raise ValueError("a Data URI upload_content must be ;base64")
    core = text.rstrip("=")
    if len(core) % 4 == 1:
        raise ValueError(f"{len(core)} base64 characters cannot encode whole bytes")
    return base64.b64decode(core + "=" * (-len(core) % 4), validate=True)


def _save(services: Services, content: bytes, record: dict[str, Any]) -> dict[str, Any]:
    """Store the file the way the vendor's URLs show it (tenant/<id>/private/uploads/<uuid>-
    <name>) and the record that points at it; used by create and by fixture seeding alike."""
    key = f"tenant/{record['tenant_id']}/private/uploads/{uuid.uuid4()}-{record['file_name']}"
    content_type = mimetypes.guess_type(record["file_name"])[0] or "application/octet-stream"
    services.objects.put(BUCKET, key, content, content_type)
    stored = {**record, "object_key": key}
    services.store.put(RECORDS, record_key(record["id"]), stored)
    return stored


def _next_record_id(services: Services) -> int:
    return services.store.next_id(RECORD_COUNTER)


def _active_record(call: Call) -> dict[str, Any]:
    """The path's record if it is active and the caller's tenant's; anything else is the
    same 404, so another tenant's ids cannot be probed."""
    record = call.services.store.get(RECORDS, record_key(call.path["id"]))
    if (record is None or record["tenant_id"] != call.principal.tenant_id
            or record["state"] != ACTIVE):
        raise ApiError(404, NOT_FOUND)
    return record


def _detail(call: Call, record: Mapping[str, Any]) -> dict[str, Any]:
    url = call.services.objects.presign_get(call.host_url, BUCKET, record["object_key"],
                                            URL_LIFETIME_SECONDS)
    return {"id": record["id"], "uuid": record["uuid"], "description": record["description"],
            "type": record["type"], "state": record["state"], "file_name": record["file_name"],
            "file_url": url}


def _follows_cursor(
    records: list[dict[str, Any]], offset: int | None,
    position: Callable[[Mapping[str, Any]], tuple[Any, int]], descending: bool,
) -> Callable[[Mapping[str, Any]], bool]:
    """Whether a record comes after the ``offset`` cursor in the requested order (spec:
    Offset). The cursor record is looked up among all of the tenant's records, archived ones
    included, so a page's ``next_id`` stays usable after that record is deleted; an id the
    tenant does not own falls back to comparing ids."""
    if offset is None:
        return lambda record: True
    cursor = next((record for record in records if record["id"] == offset), None)

    def key(record: Mapping[str, Any]) -> Any:
        return position(record) if cursor is not None else record["id"]

    mark = key(cursor) if cursor is not None else offset
    if descending:
        return lambda record: key(record) < mark
    return lambda record: key(record) > mark


def _page_by_id(call: Call, descending: bool, offset: int | None,
                limit: int) -> list[dict[str, Any]]:
    """Straight off the store's ordered scan: as fast at a million records as at ten."""
    active = call.services.store.scan(
        RECORDS, {"tenant_id": call.principal.tenant_id, "state": ACTIVE},
        descending=descending, after=record_key(offset) if offset is not None else None)
    return list(itertools.islice(active, limit))


def _page_by_field(call: Call, sort_key: Callable[[Mapping[str, Any]], Any],
                   descending: bool, offset: int | None, limit: int) -> list[dict[str, Any]]:
    """Any other column: sorted in memory, so its cost grows with the tenant's records."""
    records = call.services.store.find(RECORDS, {"tenant_id": call.principal.tenant_id})

    def position(record: Mapping[str, Any]) -> tuple[Any, int]:
        return sort_key(record), record["id"]

    follows = _follows_cursor(records, offset, position, descending)
    listed = [record for record in records if record["state"] == ACTIVE and follows(record)]
    return sorted(listed, key=position, reverse=descending)[:limit]


# -- fixtures ---------------------------------------------------------------------------

_ID_SCHEMA = {"type": "integer", "minimum": 1}
_RECORD_SCHEMA = {
    "type": "object",
    "required": ["id", "uuid", "user_id", "description", "type", "created_time", "file_name",
                 "content"],
    "additionalProperties": False,
    "properties": {
        "id": _ID_SCHEMA, "uuid": uuid_schema(), "user_id": _ID_SCHEMA,
        "description": {"type": "string"}, "type": {"enum": [1, 2, 3, 4, 5]},
        "created_time": {"type": "string", "description": "RFC 3339 date-time with offset"},
        "file_name": {"type": "string", "minLength": 1, "maxLength": 255,
                      "pattern": r"^[^/\\]+$"},
        "content": {"type": "string", "description": "the file, base64 (padding optional)"},
    },
}
#: the user's profile as the vendor's login answers it, and what a fixture user lacking a
#: field reports
USER_PROFILE_DEFAULTS: dict[str, Any] = {
    "first_name": "", "middle_name": "", "last_name": "", "email": "", "role_id": 1,
    "language": "en", "country_tel_code": "", "telephone": "", "agree_tos": True,
}


def user_profile(user: Mapping[str, Any]) -> dict[str, Any]:
    return {name: user.get(name, default) for name, default in USER_PROFILE_DEFAULTS.items()}


_USER_SCHEMA = {
    "type": "object",
    "required": ["id", "username", "password"],
    "additionalProperties": False,
    "properties": {
        "id": _ID_SCHEMA, "username": {"type": "string", "minLength": 1},
        "password": {"type": "string", "minLength": 1},
        "tokens": {"type": "array", "items": {"type": "string", "minLength": 8}},
        **{name: {"type": "boolean" if isinstance(default, bool) else
                  "integer" if isinstance(default, int) else "string"}
           for name, default in USER_PROFILE_DEFAULTS.items()},
    },
}
FIXTURE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["tenants"],
    "additionalProperties": False,
    "properties": {
        "tenants": {
            "type": "array", "minItems": 1,
            "items": {
                "type": "object",
                "required": ["id", "name", "users"],
                "additionalProperties": False,
                "properties": {
                    "id": _ID_SCHEMA, "name": {"type": "string"},
                    "profile": {"enum": ["primary", "secondary"]},
                    "users": {"type": "array", "minItems": 1, "items": _USER_SCHEMA},
                    "records": {"type": "array", "items": _RECORD_SCHEMA},
                },
            },
        },
    },
}


def seed(services: Services, section: Mapping[str, Any]) -> None:
    _check_references(section)
    records = [record for tenant in section["tenants"] for record in tenant.get("records", [])]
    services.store.raise_counter(RECORD_COUNTER,
                                 max((record["id"] for record in records), default=0))
    for tenant in section["tenants"]:
        _seed_tenant(services, tenant)


def _seed_tenant(services: Services, tenant: Mapping[str, Any]) -> None:
    store, tenant_id = services.store, tenant["id"]
    store.put(TENANTS, str(tenant_id), {"id": tenant_id, "name": tenant["name"]})
    for user in tenant["users"]:
        store.put(USERS, user["username"], {"id": user["id"], "tenant_id": tenant_id,
                                            "password": user["password"],
                                            **user_profile(user)})
        for token in user.get("tokens", []):
            store.put(TOKENS, token, {"tenant_id": tenant_id, "user_id": user["id"],
                                      "expires_at": None})
    for record in tenant.get("records", []):
        fields = {name: record[name] for name in SUMMARY_FIELDS if name in record}
        _save(services, _fixture_content(record),
              {**fields, "tenant_id": tenant_id, "state": ACTIVE})


def _check_references(section: Mapping[str, Any]) -> None:
    """What the JSON Schema cannot say: unique ids, tokens and usernames across tenants,
    records made by a user of their own tenant, parseable times, one tenant per role."""
    tenants = section["tenants"]
    users = [user for tenant in tenants for user in tenant["users"]]
    records = [record for tenant in tenants for record in tenant.get("records", [])]
    _require_unique("tenant id", [tenant["id"] for tenant in tenants])
    _require_unique("user id", [user["id"] for user in users])
    _require_unique("username", [user["username"] for user in users])
    _require_unique("token", [token for user in users for token in user.get("tokens", [])])
    _require_unique("record id", [record["id"] for record in records])
    _require_unique("record uuid", [record["uuid"] for record in records])
    _require_unique("profile role", [tenant["profile"] for tenant in tenants
                                     if "profile" in tenant])
    for tenant in tenants:
        _check_tenant(tenant)


def _check_tenant(tenant: Mapping[str, Any]) -> None:
    user_ids = {user["id"] for user in tenant["users"]}
    if "profile" in tenant and not any(user.get("tokens") for user in tenant["users"]):
        raise FixturesError(f"biometricscloud: tenant {tenant['id']} is the "
                            f"{tenant['profile']} profile account but none of its users has a "
                            f"token")
    for record in tenant.get("records", []):
        if record["user_id"] not in user_ids:
            raise FixturesError(f"biometricscloud: record {record['id']} names user "
                                f"{record['user_id']}, not a user of tenant {tenant['id']}")
        try:
            parse_datetime(record["created_time"])
        except ValueError as error:
            raise FixturesError(f"biometricscloud: record {record['id']}: {error}") from None


def _fixture_content(record: Mapping[str, Any]) -> bytes:
    try:
        return decode_base64(record["content"])
    except ValueError:
        raise FixturesError(f"biometricscloud: record {record['id']}: content is not valid "
                            f"base64") from None


def _require_unique(label: str, values: list[Any]) -> None:
    seen: set[Any] = set()
    for value in values:
        if value in seen:
            raise FixturesError(f"biometricscloud: duplicate {label} {value!r}")
        seen.add(value)


def profile(section: Mapping[str, Any]) -> dict[str, Any]:
    """INTERFACES.md: ``primary`` and ``secondary`` {token}, plus the tenant, a login and the
    first record so that a suite can reach each without guessing."""
    accounts: dict[str, Any] = {}
    for tenant in section["tenants"]:
        role = tenant.get("profile")
        if role is None:
            continue
        user = next(user for user in tenant["users"] if user.get("tokens"))
        account = {"token": user["tokens"][0], "tenant_id": tenant["id"],
                   "username": user["username"], "password": user["password"]}
        if tenant.get("records"):
            account["record_id"] = tenant["records"][0]["id"]
        accounts[role] = account
    return accounts


API = VendorApi(
    name="biometricscloud", handlers=handlers, error_body=error_body, authenticate=authenticate,
    credential=credential, fixture_schema=FIXTURE_SCHEMA, seed=seed, profile=profile,
    kinds=(TENANTS, USERS, TOKENS, REFRESH_TOKENS, RECORDS),
)
