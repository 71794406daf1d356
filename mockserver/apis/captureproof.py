"""CaptureProof: session login, a patient's proofs and their captures, SigV2 S3 POST uploads.

Accounts own patients, patients own proofs, proofs own captures; a session token belongs to
one account and nothing of another account is ever shown (its patients and proofs answer
404). The document's samples send the token as a form field on GET requests, so the token
is read from the query string, the X-API-Session header, a form body (multipart or
urlencoded) or a JSON body, whatever the method. Whether a capture's media is processed is
derived, not stored: it reads the object store and the clock each time, so it follows
``POST /__admin/clock`` exactly.
"""

from __future__ import annotations

import hmac
import json
import mimetypes
import secrets
import string
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, cast

from flask import Request

from mockserver.apis._common import ERROR_NAMES
from mockserver.clock import isoformat, parse_datetime
from mockserver.engine import MAX_BODY_BYTES
from mockserver.fixtures import FixturesError
from mockserver.store import StateStore
from mockserver.validation import Problem, value_problems
from mockserver.vendor import ApiError, Call, Reply, Services, VendorApi, registry

BUCKET = "cp-test-uploads"
KEY_PREFIX = "captures/"
UPLOAD_WINDOW = timedelta(hours=1)
#: how long the mock "transcodes" an uploaded capture's media (the spec: 30 seconds)
PROCESSING_TIME = timedelta(seconds=30)
SESSION_LIFETIME = timedelta(hours=24)
MEDIA_URL_LIFETIME = timedelta(hours=1)
MAX_MEDIA_BYTES = 5 * 1024**3
TOKEN_FIELD, TOKEN_HEADER = "token", "X-API-Session"
CAPTURE_ID_ALPHABET = string.ascii_lowercase + string.digits

#: the policy conditions of the document's sample; ``presign_post_v2`` adds the bucket
POLICY_CONDITIONS: list[Any] = [
    ["starts-with", "$utf8", ""],
    ["starts-with", "$key", KEY_PREFIX],
    ["starts-with", "$x-requested-with", ""],
    ["content-length-range", 0, MAX_MEDIA_BYTES],
    ["starts-with", "$content-type", ""],
    {"acl": "private"},
    {"success_action_status": "201"},
    {"x-amz-server-side-encryption": "AES256"},
]
#: the answer's fields in the order of the document's sample
CREDENTIAL_FIELDS = ("x-amz-server-side-encryption", "key", "acl", "AWSAccessKeyId", "policy",
                     "signature", "success_action_status", "X-Requested-With")

INVALID_TOKEN = "Invalid or missing session token"
INVALID_LOGIN = "Invalid email, password or app_id"
PROOF_NOT_FOUND = "Patient or proof not found"
CAPTURE_NOT_FOUND = "Capture not found"
NO_UPLOADED_OBJECT = "No uploaded object exists for upload_s3_key"
VALIDATION_FAILED = "Request validation failed: "

ACCOUNTS, SESSIONS, PATIENTS, PROOFS, CAPTURES, APPS = (
    "captureproof.account", "captureproof.session", "captureproof.patient",
    "captureproof.proof", "captureproof.capture", "captureproof.app",
)
#: the spec's SessionCreate.app_id default (the vendor's)
DEFAULT_APP_ID = "captureproof"
LOGGED_OUT = {"status": "ok"}

handlers, operation = registry()


@dataclass(frozen=True)
class Principal:
    """The session a request was authenticated with: its account and the token itself
    (logout needs the token to end exactly that session)."""

    account_id: str
    token: str


def error_body(status: int, message: str, problems: list[Problem]) -> dict[str, Any]:
    return {"code": status, "error": ERROR_NAMES.get(status, "Error"), "message": message}


# -- credentials --------------------------------------------------------------------------


def authenticate(call: Call, required: bool) -> Principal | None:
    """A token that is sent must be valid even where the session is optional (the upload
    credentials sample sends none; a client that sends one expects it to count)."""
    token = _presented_token(call.request)
    if token is None and not required:
        return None
    session = _live_session(call.services, token)
    if session is None:
        raise ApiError(401, INVALID_TOKEN)
    return Principal(session["account_id"], session["token"])


def credential(request: Request) -> str | None:
    """The token, for per-credential rate limits; the body is read only within the limit."""
    if not 0 < (request.content_length or 0) <= MAX_BODY_BYTES:
        return _text(request.args.get(TOKEN_FIELD)) or _text(request.headers.get(TOKEN_HEADER))
    return _text(_presented_token(request))


def _presented_token(request: Request) -> Any:
    """The first token found in query, header, form body or JSON body; None if none is."""
    for candidate in _token_candidates(request):
        if candidate is not None:
            return candidate
    return None


def _token_candidates(request: Request) -> Iterator[Any]:
    yield request.args.get(TOKEN_FIELD)
    yield request.headers.get(TOKEN_HEADER)
    yield _body_fields(request).get(TOKEN_FIELD)


def _body_fields(request: Request) -> Mapping[str, Any]:
    """The body as fields: a JSON object, or a form (multipart or urlencoded) on any method.

    The raw body is cached first: Werkzeug's form parser then reads the cache instead of
    consuming the stream, so the spec validation that runs after ``authenticate`` still
    sees the body.
    """
    request.get_data(cache=True)
    as_json = _json_object(request)
    if as_json is not None:
        return as_json
    return request.form


def _json_object(request: Request) -> dict[str, Any] | None:
    """A JSON object body, also one labelled urlencoded (what ``curl -d '{...}'`` sends)."""
    if request.is_json:
        body = request.get_json(silent=True)
        return body if isinstance(body, dict) else None
    if _is_json_text_form(request):
        try:
            body = json.loads(request.get_data(cache=True))
        except ValueError:
            return None
        return body if isinstance(body, dict) else None
    return None


def _is_json_text_form(request: Request) -> bool:
    return (request.mimetype == "application/x-www-form-urlencoded"
            and request.get_data(cache=True).lstrip().startswith(b"{"))


def _live_session(services: Services, token: Any) -> dict[str, Any] | None:
    if not isinstance(token, str) or not token:
        return None
    session = services.store.get(SESSIONS, token)
    if session is None:
        return None
    expires_at = session.get("expires_at")
    if expires_at is not None and services.clock.now() >= parse_datetime(expires_at):
        return None
    return session


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


# -- sessions -----------------------------------------------------------------------------


@operation("createSession")
def create_session(call: Call) -> Reply:
    """The answer names the user under its role's key (``clinician`` or ``patient``): the
    vendor's SDK counts itself signed in only when one of the two is there."""
    body = call.body
    app = call.services.store.get(APPS, str(body.get("app_id", DEFAULT_APP_ID)))
    account = _account_by_login(call.services, body)
    if account is None or app is None:
        raise ApiError(401, INVALID_LOGIN)
    now = call.services.clock.now()
    token = _fresh_key(call.services, SESSIONS, lambda: secrets.token_hex(16))
    call.services.store.put(SESSIONS, token, {"token": token, "account_id": account["id"],
                                              "expires_at": isoformat(now + SESSION_LIFETIME)})
    user = {"id": account["id"], "email": account["email"],
            "first_name": account["first_name"], "last_name": account["last_name"]}
    return Reply(200, {"token": token, "platform": app["platform"], account["role"]: user})


@operation("deleteSession")
def delete_session(call: Call) -> Reply:
    call.services.store.delete(SESSIONS, call.principal.token)
    return Reply(200, LOGGED_OUT)


@operation("deleteSessionByToken")
def delete_session_by_token(call: Call) -> Reply:
    """The SDK's logout: the path's token is both the credential and the session ended."""
    session = _live_session(call.services, call.path["token"])
    if session is None:
        raise ApiError(401, INVALID_TOKEN)
    call.services.store.delete(SESSIONS, session["token"])
    return Reply(200, LOGGED_OUT)


def _account_by_login(services: Services, body: Mapping[str, Any]) -> dict[str, Any] | None:
    """Email is matched case-insensitively; the password exactly (in constant time, as a
    real login would, though the mock has nothing to hide)."""
    email = str(body.get("email", "")).lower()
    for account in services.store.find(ACCOUNTS, {"email_key": email}):
        if _same(account["password"], body.get("password")):
            return account
    return None


def _same(expected: str, presented: Any) -> bool:
    return isinstance(presented, str) and hmac.compare_digest(expected.encode(),
                                                              presented.encode())


# -- captures -----------------------------------------------------------------------------


@operation("listCaptures")
def list_captures(call: Call) -> Reply:
    return Reply(200, {"captures": _capture_views(call, _proof(call))})


@operation("getUploadCredentials")
def get_upload_credentials(call: Call) -> Reply:
    _proof(call)
    return _upload_credentials(call)


@operation("getSdkUploadCredentials")
def get_sdk_upload_credentials(call: Call) -> Reply:
    """The SDK's placeholder path: the policy names no proof (only the ``captures/`` key
    prefix), so the required session alone says whose upload it is."""
    return _upload_credentials(call)


def _upload_credentials(call: Call) -> Reply:
    objects = call.services.objects
    fields = objects.presign_post_v2(
        BUCKET,
        {"x-amz-server-side-encryption": "AES256", "key": f"{KEY_PREFIX}{uuid.uuid4()}",
         "acl": "private", "success_action_status": "201", "X-Requested-With": "xhr"},
        POLICY_CONDITIONS, int(UPLOAD_WINDOW.total_seconds()),
    )
    answer = {name: fields[name] for name in CREDENTIAL_FIELDS}
    return Reply(200, {**answer, "action_url": objects.bucket_url(call.host_url, BUCKET)})


@operation("createCapture")
def create_capture(call: Call) -> Reply:
    proof = _proof(call)
    fields = _capture_fields(call)
    key = fields.get("upload_s3_key")
    if key is not None and call.services.objects.head(BUCKET, key) is None:
        raise ApiError(400, NO_UPLOADED_OBJECT)
    capture_id = _fresh_key(call.services, CAPTURES, _capture_id)
    call.services.store.put(CAPTURES, capture_id, {
        "id": capture_id, "proof_id": proof["id"],
        "description": fields.get("description"), "upload_s3_key": key,
        "library_item_id": fields.get("library_item_id"),
        "metadata": fields.get("metadata") or {},
        "created_at": isoformat(call.services.clock.now()),
    })
    return Reply(200, {"proof": _proof_view(call, proof)})


@operation("isMediaProcessed")
def is_media_processed(call: Call) -> Reply:
    proof = _proof(call)
    capture = call.services.store.get(CAPTURES, call.path["capture_id"])
    if capture is None or capture["proof_id"] != proof["id"]:
        raise ApiError(404, CAPTURE_NOT_FOUND)
    if not _processed(call, capture):
        return Reply(200, {"media_processed": False})
    return Reply(200, {"media_processed": True, "captures": _capture_views(call, proof)})


def _proof(call: Call) -> dict[str, Any]:
    """The path's proof, if it is the path patient's and (with a session) the account's.
    Without a session (upload credentials only) any existing patient and proof will do."""
    store = call.services.store
    patient = store.get(PATIENTS, call.path["patient_id"])
    proof = store.get(PROOFS, call.path["proof_id"])
    principal: Principal | None = call.principal
    if (patient is None or proof is None or proof["patient_id"] != patient["id"]
            or (principal is not None and patient["account_id"] != principal.account_id)):
        raise ApiError(404, PROOF_NOT_FOUND)
    return proof


def _capture_fields(call: Call) -> dict[str, Any]:
    """The new capture's fields, whichever way the body came (JSON, JSON text labelled
    urlencoded, or a form whose ``metadata`` is a JSON-encoded object)."""
    if _is_json_text_form(call.request):
        fields = _json_object(call.request)
        if fields is None:
            raise ApiError(400, VALIDATION_FAILED + "body: is not a well-formed JSON object")
        _check_json_body(call, fields)
    else:
        fields = call.body
    metadata = fields.get("metadata")
    if isinstance(metadata, str):
        fields["metadata"] = _decoded_metadata(metadata)
    return fields


def _check_json_body(call: Call, fields: dict[str, Any]) -> None:
    """Check a JSON text that came labelled urlencoded as the engine checks a JSON body,
    against the spec's JSON variant (the engine parsed the text as a form)."""
    schema = call.operation.spec["requestBody"]["content"]["application/json"]["schema"]
    problems = value_problems(schema, fields)
    if problems:
        raise ApiError(400, VALIDATION_FAILED + "; ".join(map(str, problems)), problems)


def _decoded_metadata(text: str) -> dict[str, Any]:
    try:
        metadata = json.loads(text)
    except ValueError:
        metadata = None
    problems = value_problems({"type": "object"}, metadata, "body.metadata")
    if problems:
        raise ApiError(400, VALIDATION_FAILED + "; ".join(map(str, problems)), problems)
    return cast("dict[str, Any]", metadata)  # value_problems: an object


def _processed(call: Call, capture: Mapping[str, Any]) -> bool:
    """Processed once its upload exists and PROCESSING_TIME has passed since creation; a
    capture without an uploaded object (library item, no media) is processed at once."""
    key = capture["upload_s3_key"]
    if key is None:
        return True
    if call.services.objects.head(BUCKET, key) is None:
        return False
    return call.services.clock.now() >= parse_datetime(capture["created_at"]) + PROCESSING_TIME


def _capture_views(call: Call, proof: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The proof's captures, oldest first (insertion order breaks ties)."""
    captures = call.services.store.find(CAPTURES, {"proof_id": proof["id"]})
    captures.sort(key=lambda capture: parse_datetime(capture["created_at"]))
    return [_capture_view(call, capture) for capture in captures]


def _capture_view(call: Call, capture: Mapping[str, Any]) -> dict[str, Any]:
    processed = _processed(call, capture)
    key = capture["upload_s3_key"]
    media_url = None
    if processed and key is not None:
        media_url = call.services.objects.presign_get(
            call.host_url, BUCKET, key, int(MEDIA_URL_LIFETIME.total_seconds()))
    return {
        "id": capture["id"], "description": capture["description"], "upload_s3_key": key,
        "library_item_id": capture["library_item_id"], "metadata": capture["metadata"],
        "media_processed": processed, "media_url": media_url,
        "created_at": capture["created_at"],
    }


def _proof_view(call: Call, proof: Mapping[str, Any]) -> dict[str, Any]:
    captures = _capture_views(call, proof)
    return {
        **{name: proof[name] for name in ("id", "patient_id", "name", "media_format",
                                          "description", "created_at", "creator")},
        "first_capture": captures[0] if captures else None,
        "last_capture": captures[-1] if captures else None,
        "captures_count": len(captures), "captures": captures,
    }


def _capture_id() -> str:
    """Nine lowercase letters and digits, like the samples' ids (ptnn8ywy2)."""
    return "".join(secrets.choice(CAPTURE_ID_ALPHABET) for _ in range(9))


def _fresh_key(services: Services, kind: str, make: Callable[[], str]) -> str:
    """A random key not yet used in ``kind`` (collisions are unlikely, never impossible)."""
    while True:
        key = make()
        if services.store.get(kind, key) is None:
            return key


# -- fixtures -----------------------------------------------------------------------------

_ID = {"type": "string", "pattern": "^[a-z0-9]{1,32}$"}
_TIME = {"type": "string", "minLength": 1, "description": "ISO 8601, quoted in YAML"}
_RELEASE = {"type": "object", "required": ["mandatory", "description"],
            "additionalProperties": False,
            "properties": {"mandatory": {"type": "boolean"}, "description": {"type": "string"}}}


def _records(required: list[str], properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "array", "items": {"type": "object", "required": required,
                                       "additionalProperties": False, "properties": properties}}


FIXTURE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["apps", "accounts"],
    "additionalProperties": False,
    "properties": {
        "apps": {"minItems": 1, **_records(["id", "platform"], {
            "id": {"type": "string", "minLength": 1},
            "platform": {"type": "object", "required": ["ios", "android"],
                         "additionalProperties": False,
                         "properties": {"ios": _RELEASE, "android": _RELEASE}},
        })},
        "accounts": {"minItems": 1, **_records(
            ["id", "email", "password", "role", "first_name", "last_name"], {
            "id": {"type": "string", "minLength": 1}, "email": {"type": "string", "minLength": 3},
            "password": {"type": "string", "minLength": 1},
            "role": {"enum": ["clinician", "patient"]},
            "first_name": {"type": "string"}, "last_name": {"type": "string"},
            "profile": {"enum": ["primary", "secondary"]},
            "tokens": {"type": "array",
                       "items": {"type": "string", "pattern": "^[0-9a-f]{32}$"}},
        })},
        "patients": _records(["id", "account_id"], {
            "id": _ID, "account_id": {"type": "string"}, "name": {"type": "string"},
        }),
        "proofs": _records(["id", "patient_id", "name", "media_format", "created_at",
                            "creator"], {
            "id": _ID, "patient_id": _ID, "name": {"type": "string"},
            "media_format": {"enum": ["photo", "video", "audio", "document"]},
            "description": {"type": ["string", "null"]}, "created_at": _TIME,
            "creator": {"type": "object", "required": ["id", "name"],
                        "additionalProperties": False,
                        "properties": {"id": {"type": "string"}, "name": {"type": "string"}}},
        }),
        "captures": _records(["id", "proof_id", "created_at"], {
            "id": _ID, "proof_id": _ID, "description": {"type": ["string", "null"]},
            "upload_s3_key": {"type": ["string", "null"], "minLength": 1},
            "library_item_id": {"type": ["string", "null"]},
            "metadata": {"type": "object"}, "created_at": _TIME,
        }),
    },
}


def seed(services: Services, section: Mapping[str, Any]) -> None:
    """Accounts, then patients, proofs and captures, each checked against what it names.

    A fixture capture with an ``upload_s3_key`` gets a small placeholder object under that
    key, so it is processed (and its media_url downloads) like any uploaded capture.
    """
    store = services.store
    for app in section["apps"]:
        _put_new(store, APPS, app["id"], dict(app))
    for account in section["accounts"]:
        _seed_account(services, account)
    for patient in section.get("patients", []):
        _require(store, ACCOUNTS, patient["account_id"], f"patient {patient['id']}")
        _put_new(store, PATIENTS, patient["id"], dict(patient))
    for proof in section.get("proofs", []):
        _require(store, PATIENTS, proof["patient_id"], f"proof {proof['id']}")
        _put_new(store, PROOFS, proof["id"], {"description": None, **proof,
                                              "created_at": _fixture_time(proof)})
    for capture in section.get("captures", []):
        _seed_capture(services, capture)
    _check_profile_roles(section)


def _seed_account(services: Services, account: Mapping[str, Any]) -> None:
    store = services.store
    email_key = account["email"].lower()
    if store.find(ACCOUNTS, {"email_key": email_key}):
        raise FixturesError(f"captureproof: two accounts have the email {account['email']}")
    _put_new(store, ACCOUNTS, account["id"], {**account, "email_key": email_key})
    for token in account.get("tokens", []):
        _put_new(store, SESSIONS, token,
                 {"token": token, "account_id": account["id"], "expires_at": None})


def _seed_capture(services: Services, capture: Mapping[str, Any]) -> None:
    _require(services.store, PROOFS, capture["proof_id"], f"capture {capture['id']}")
    key = capture.get("upload_s3_key")
    _put_new(services.store, CAPTURES, capture["id"], {
        "description": None, "upload_s3_key": None, "library_item_id": None, "metadata": {},
        **capture, "created_at": _fixture_time(capture),
    })
    if key is not None and services.objects.head(BUCKET, key) is None:
        content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
        services.objects.put(BUCKET, key, f"placeholder media for {key}\n".encode(),
                             content_type)


def _check_profile_roles(section: Mapping[str, Any]) -> None:
    """The conformance profile needs, per role, one account with a token and a proof."""
    roles = [account["profile"] for account in section["accounts"] if "profile" in account]
    for role in set(roles):
        if roles.count(role) > 1:
            raise FixturesError(f"captureproof: more than one account has profile {role}")
    for account in section["accounts"]:
        if "profile" in account and not (account.get("tokens")
                                         and _first_proof(section, account["id"])):
            raise FixturesError(f"captureproof: account {account['id']} has profile "
                                f"{account['profile']} but no token or no proof")


def _require(store: StateStore, kind: str, key: str, referrer: str) -> None:
    if store.get(kind, key) is None:
        raise FixturesError(f"captureproof: {referrer} names {kind.split('.')[1]} {key}, "
                            f"which the fixtures do not define")


def _put_new(store: StateStore, kind: str, key: str, document: dict[str, Any]) -> None:
    if store.get(kind, key) is not None:
        raise FixturesError(f"captureproof: {kind.split('.')[1]} {key} is defined twice")
    store.put(kind, key, document)


def _fixture_time(record: Mapping[str, Any]) -> str:
    try:
        return isoformat(parse_datetime(record["created_at"]))
    except ValueError as error:
        raise FixturesError(f"captureproof: {record['id']}.created_at: {error}") from None


def profile(section: Mapping[str, Any]) -> dict[str, Any]:
    """primary/secondary: each role's account with its first token, the first proof of its
    first patient that has one, and its login with the first app's id (so a suite can open
    and end a session as that client does)."""
    accounts: dict[str, Any] = {}
    for account in section["accounts"]:
        role = account.get("profile")
        if role is None:
            continue
        proof = _first_proof(section, account["id"])
        if proof is None or not account.get("tokens"):
            continue  # seed refuses such fixtures; a profile is never half filled
        accounts[role] = {"token": account["tokens"][0], "patient_id": proof["patient_id"],
                          "proof_id": proof["id"], "email": account["email"],
                          "password": account["password"],
                          "app_id": section["apps"][0]["id"]}
    return accounts


def _first_proof(section: Mapping[str, Any], account_id: str) -> Mapping[str, Any] | None:
    patients = [patient["id"] for patient in section.get("patients", [])
                if patient["account_id"] == account_id]
    proofs: Iterable[Mapping[str, Any]] = section.get("proofs", [])
    return next((proof for patient in patients for proof in proofs
                 if proof["patient_id"] == patient), None)


API = VendorApi(
    name="captureproof", handlers=handlers, error_body=error_body, authenticate=authenticate,
    credential=credential, fixture_schema=FIXTURE_SCHEMA, seed=seed, profile=profile,
    kinds=(ACCOUNTS, APPS, SESSIONS, PATIENTS, PROOFS, CAPTURES),
)
