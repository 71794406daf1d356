"""The mock's S3: presigned POST uploads and presigned GET downloads on the mock's own port.

Signatures are made and re-derived with botocore's signers (a SigV4 POST policy with SigV4's
formula, checked by botocore's signer), so they carry exactly the fields a real AWS SDK
produces: SigV2 POST policies (CaptureProof's sample), SigV4 POST policies
(Uplift) and SigV4 query-string GETs (Biometrics Cloud's ``file_url``). Any S3 client holding
the fixtures' ``object_store`` keys can presign too: SigV4 or SigV2 query strings, for GET or
HEAD (the method is signed). Times come from the mock clock, not the system's, so expiries
follow ``POST /__admin/clock``.

Served path-style under ``/s3/<bucket>/<key>``. Answers use S3's status codes and XML.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, cast
from urllib.parse import quote, urlencode, urlsplit
from xml.sax.saxutils import escape

from botocore.auth import (
    SIGV4_TIMESTAMP,
    HmacV1Auth,
    HmacV1QueryAuth,
    S3SigV4QueryAuth,
    SigV4Auth,
)
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials
from flask import Request, Response
from werkzeug.datastructures import MultiDict
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.http import parse_range_header

from mockserver import jsonbody
from mockserver.clock import Clock, isoformat, parse_datetime, utc
from mockserver.publicurl import origin_problem
from mockserver.s3errors import S3Error
from mockserver.s3form import PostForm, read_post_form
from mockserver.store import StateStore

__all__ = ["MAX_UPLOAD_BYTES", "PATH_PREFIX", "ObjectStore", "S3Error", "StoredObject"]

PATH_PREFIX = "/s3"
_KIND = "s3object"
#: fields S3 never checks against the policy (AWS docs, "Creating a POST policy")
_UNCHECKED_FIELDS = {"policy", "signature", "awsaccesskeyid", "x-amz-signature", "file"}
#: the mock keeps uploads in memory or SQLite, so it accepts less than S3's 5 GiB
MAX_UPLOAD_BYTES = 100 * 1024 * 1024
#: S3 refuses a presigned URL valid for longer than a week
MAX_EXPIRES_SECONDS = 7 * 24 * 3600
_PUBLIC_ACLS = {"public-read", "public-read-write"}
#: the query parameters of a SigV4 and of a SigV2 presigned URL
_V4_QUERY = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
             "X-Amz-SignedHeaders", "X-Amz-Signature")
_V2_QUERY = ("AWSAccessKeyId", "Expires", "Signature")
#: the request headers S3 reads on a browser POST and on a GET (what a preflight allows)
POST_HEADERS = ("Content-Type",)
GET_HEADERS = ("Range", "If-Match", "If-None-Match", "If-Modified-Since", "If-Unmodified-Since")
#: S3's answers to a wrong signature, no permission and a key it does not know
_ERRORS = {
    "mismatch": (403, "SignatureDoesNotMatch", "The request signature we calculated does not "
                 "match the signature you provided. Check your key and signing method."),
    "denied": (403, "AccessDenied", "Access Denied"),
    "unknown key": (403, "InvalidAccessKeyId",
                    "The AWS Access Key Id you provided does not exist in our records."),
}


@dataclass(frozen=True)
class StoredObject:
    bucket: str
    key: str
    size: int
    content_type: str
    etag: str
    uploaded_at: datetime
    acl: str = "private"

    @property
    def public(self) -> bool:
        """Readable without a signature, as S3 serves a ``public-read`` object."""
        return self.acl in _PUBLIC_ACLS


class ObjectStore:
    def __init__(
        self, store: StateStore, clock: Clock, access_key: str, secret_key: str,
        region: str = "us-east-1",
    ) -> None:
        self._store, self._clock, self._region = store, clock, region
        self._credentials = Credentials(access_key, secret_key)
        # A signature is a pure function of URL, second and lifetime, and botocore's signer
        # is the costliest step of a read that lists files: a download and a re-read within
        # the same second reuse the URL instead of signing it again.
        self._signed_get_url = lru_cache(maxsize=4096)(self._sign_get_url_at)

    # -- objects ---------------------------------------------------------------------------

    def put(self, bucket: str, key: str, data: bytes, content_type: str,
            acl: str = "private") -> StoredObject:
        stored = StoredObject(bucket, key, len(data), content_type,
                              hashlib.md5(data).hexdigest(), self._clock.now(), acl)
        self._store.put_blob(f"{bucket}/{key}", data)
        self._store.put(_KIND, f"{bucket}/{key}", {
            "bucket": bucket, "key": key, "size": stored.size, "content_type": content_type,
            "etag": stored.etag, "uploaded_at": isoformat(stored.uploaded_at), "acl": acl,
        })
        return stored

    def head(self, bucket: str, key: str) -> StoredObject | None:
        record = self._store.get(_KIND, f"{bucket}/{key}")
        if record is None:
            return None
        return StoredObject(**{**record, "uploaded_at": parse_datetime(record["uploaded_at"])})

    def read(self, bucket: str, key: str) -> bytes | None:
        return self._store.get_blob(f"{bucket}/{key}")

    # -- issuing presigned requests --------------------------------------------------------

    def bucket_url(self, host_url: str, bucket: str) -> str:
        return f"{host_url.rstrip('/')}{PATH_PREFIX}/{bucket}/"

    def presign_post_v2(
        self, bucket: str, fields: Mapping[str, str], conditions: list[Any], expires_in: int
    ) -> dict[str, str]:
        """Fields for an S3 POST signed with SigV2 (``AWSAccessKeyId``, ``policy``,
        ``signature``), as CaptureProof's sample shows them."""
        policy = self._policy(self._clock.now(), expires_in, [*conditions, {"bucket": bucket}])
        signature = HmacV1Auth(self._credentials).sign_string(policy)
        return {**fields, "AWSAccessKeyId": self._credentials.access_key,
                "policy": policy, "signature": signature}

    def presign_post_v4(
        self, bucket: str, fields: Mapping[str, str], conditions: list[Any], expires_in: int
    ) -> dict[str, str]:
        """Fields for an S3 POST signed with SigV4, as boto3's ``generate_presigned_post``.
        Signed with SigV4's formula (``_sigv4_signature``) without building a botocore
        request for it; an upload is checked with botocore's own signer."""
        now = self._clock.now()
        timestamp = _sigv4_timestamp(now)
        amz = {
            "x-amz-algorithm": "AWS4-HMAC-SHA256",
            "x-amz-credential": f"{self._credentials.access_key}/{timestamp[:8]}/"
                                f"{self._region}/s3/aws4_request",
            "x-amz-date": timestamp,
        }
        policy = self._policy(
            now, expires_in, [*conditions, {"bucket": bucket}, *({k: v} for k, v in amz.items())]
        )
        signature = _sigv4_signature(self._credentials.secret_key, timestamp[:8], self._region,
                                     "s3", policy)
        return {**fields, **amz, "policy": policy, "x-amz-signature": signature}

    def presign_get(self, host_url: str, bucket: str, key: str, expires_in: int,
                    method: str = "GET") -> str:
        """A SigV4 query-string URL, as boto3's ``generate_presigned_url``; the method is
        part of the signature, so a GET URL does not serve a HEAD."""
        return self._sign_get_url(self._object_url(host_url, bucket, key), self._clock.now(),
                                  expires_in, method)

    @staticmethod
    def _policy(now: datetime, expires_in: int, conditions: list[Any]) -> str:
        expiration = isoformat(now + timedelta(seconds=expires_in))
        document = {"expiration": expiration, "conditions": conditions}
        return base64.b64encode(jsonbody.dumps(document)).decode()

    @staticmethod
    def _signer_request(timestamp: str, url: str = "https://s3.amazonaws.com/",
                        method: str = "GET") -> AWSRequest:
        request = AWSRequest(method=method, url=url)
        request.context["timestamp"] = timestamp
        return request

    @staticmethod
    def _object_url(host_url: str, bucket: str, key: str) -> str:
        return f"{host_url.rstrip('/')}{PATH_PREFIX}{_object_path(bucket, key)}"

    def _sign_get_url(self, url: str, moment: datetime, expires_in: int, method: str) -> str:
        return self._signed_get_url(url, _sigv4_timestamp(moment), expires_in, method)

    def _sign_get_url_at(self, url: str, timestamp: str, expires_in: int, method: str) -> str:
        request = self._signer_request(timestamp, url, method)
        signer = _ClockedQueryAuth(self._credentials, "s3", self._region, expires=expires_in)
        signer.sign_at(request)
        return str(request.url)

    # -- serving ---------------------------------------------------------------------------

    def serve_post(self, request: Request, bucket: str) -> Response:
        try:
            form = read_post_form(request.mimetype, request.mimetype_params.get("boundary"),
                                  request.stream)
            return self._accept_upload(_root_url(request), bucket, form)
        except S3Error as error:
            return error.response()

    def serve_get(self, request: Request, bucket: str, key: str) -> Response:
        """GET or HEAD of an object: signed (SigV4 or SigV2 query) or public, with S3's
        validators, conditional answers and single byte ranges."""
        try:
            self._check_query_signature(request, bucket, key)
            stored, data = self.head(bucket, key), self.read(bucket, key)
            if stored is None or data is None:
                raise S3Error(*_ERRORS["denied"]) if _is_anonymous(request) else S3Error(
                    404, "NoSuchKey", "The specified key does not exist.", Key=key)
            if _is_anonymous(request) and not stored.public:
                raise S3Error(*_ERRORS["denied"])
            return _object_response(request, stored, data)
        except S3Error as error:
            return error.response()

    def _accept_upload(self, host_url: str, bucket: str, form: PostForm) -> Response:
        fields = form.fields
        policy = self._verified_policy(fields)
        data = bytes(form.file.data)
        key = fields.get("key", "").replace("${filename}", form.file.filename or "")
        fields = {**fields, "key": key, "bucket": bucket}
        _check_conditions(policy["conditions"], fields, len(data))
        content_type = (fields.get("content-type") or form.file.content_type
                        or "binary/octet-stream")
        stored = self.put(bucket, key, data, content_type, fields.get("acl", "private"))
        return _upload_answer(fields, self._object_url(host_url, bucket, key), stored)

    def _verified_policy(self, fields: Mapping[str, str]) -> dict[str, Any]:
        encoded = fields.get("policy")
        if not encoded:
            raise S3Error(403, "AccessDenied", "Bucket POST must contain a field named 'policy'.")
        if "x-amz-signature" in fields:
            expected = self._v4_policy_signature(encoded, fields)
            presented = fields["x-amz-signature"]
        else:
            if fields.get("awsaccesskeyid") != self._credentials.access_key:
                raise S3Error(*_ERRORS["unknown key"])
            expected = HmacV1Auth(self._credentials).sign_string(encoded)
            presented = fields.get("signature", "")
        if not hmac.compare_digest(expected.encode(), presented.encode()):
            raise S3Error(*_ERRORS["mismatch"])
        policy = _decode_policy(encoded)
        if self._clock.now() > _expiration(policy):
            raise S3Error(403, "AccessDenied", "Invalid according to Policy: Policy expired.")
        return policy

    def _v4_policy_signature(self, encoded_policy: str, fields: Mapping[str, str]) -> str:
        try:
            moment = datetime.strptime(fields.get("x-amz-date", ""), SIGV4_TIMESTAMP)
        except ValueError:
            raise S3Error(400, "AuthorizationQueryParametersError",
                          "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"",
                          ) from None
        signer = SigV4Auth(self._credentials, "s3", self._region)
        return signer.signature(encoded_policy, self._signer_request(_sigv4_timestamp(moment)))

    def _check_query_signature(self, request: Request, bucket: str, key: str) -> None:
        """A SigV4 or a SigV2 presigned query, whichever the URL carries; none is anonymous."""
        query = request.args
        if any(name in query for name in _V4_QUERY):
            self._check_v4_query(request.method, _root_url(request), bucket, key, query)
        elif any(name in query for name in _V2_QUERY):
            self._check_v2_query(request, bucket, key)

    def _check_v4_query(self, method: str, host_url: str, bucket: str, key: str,
                        query: MultiDict[str, str]) -> None:
        if any(name not in query for name in _V4_QUERY):
            raise S3Error(*_ERRORS["denied"])
        try:
            moment = datetime.strptime(query["X-Amz-Date"], SIGV4_TIMESTAMP)
            expires_in = int(query["X-Amz-Expires"])
        except ValueError:
            raise S3Error(400, "AuthorizationQueryParametersError",
                          "X-Amz-Date or X-Amz-Expires is malformed.") from None
        _check_expires_bounds(expires_in)
        base_query = {k: v for k, v in query.items() if k not in _V4_QUERY}
        url = self._object_url(host_url, bucket, key)
        if base_query:
            url += "?" + urlencode(base_query)
        if self._sign_get_url(url, moment, expires_in, method) != _without_signature(url, query):
            raise S3Error(*_ERRORS["mismatch"])
        self._check_not_expired(utc(moment) + timedelta(seconds=expires_in))

    def _check_v2_query(self, request: Request, bucket: str, key: str) -> None:
        """SigV2 query authentication (aws CLI v1, boto2): the string to sign names the
        path-style resource ``/bucket/key``, whatever prefix the endpoint has, as botocore's
        ``HmacV1QueryAuth`` signs it."""
        query = request.args
        if any(name not in query for name in _V2_QUERY):
            raise S3Error(403, "AccessDenied", "Query-string authentication requires the "
                          "Signature, Expires and AWSAccessKeyId parameters")
        if query["AWSAccessKeyId"] != self._credentials.access_key:
            raise S3Error(*_ERRORS["unknown key"])
        expires = query["Expires"]
        if not (expires.isascii() and expires.isdigit()):
            raise S3Error(403, "AccessDenied",
                          f"Invalid date (should be seconds since epoch): {expires}")
        resource = urlsplit(f"{_object_path(bucket, key)}?{request.query_string.decode('latin-1')}")
        signer = _FixedExpiryV1QueryAuth(self._credentials, expires)
        # HTTPHeaders is mapping-like; botocore-stubs types the argument as a Mapping
        headers = cast("Mapping[str, Any]", HTTPHeaders())
        expected = signer.get_signature(request.method, resource, headers)
        if not hmac.compare_digest(expected.encode(), query["Signature"].encode()):
            raise S3Error(*_ERRORS["mismatch"])
        self._check_not_expired(datetime.fromtimestamp(int(expires), UTC))

    def _check_not_expired(self, expires_at: datetime) -> None:
        now = self._clock.now()
        if now > expires_at:
            raise S3Error(403, "AccessDenied", "Request has expired",
                          Expires=isoformat(expires_at), ServerTime=isoformat(now))


class _FixedExpiryV1QueryAuth(HmacV1QueryAuth):
    """botocore's SigV2 query signer, for an ``Expires`` the URL states (not now + N)."""

    def __init__(self, credentials: Credentials, expires: str) -> None:
        super().__init__(credentials)
        self._expires_at = expires

    def _get_date(self) -> str:
        return self._expires_at


@lru_cache(maxsize=64)
def _signing_key(secret_key: str, day: str, region: str, service: str) -> hmac.HMAC:
    """SigV4's signing key, ready to sign: four HMACs that give the same key all day
    (botocore's ``SigV4Auth.signature`` derives it again for every signature)."""
    key = f"AWS4{secret_key}".encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.digest(key, part.encode(), "sha256")
    return hmac.new(key, digestmod=hashlib.sha256)


def _sigv4_signature(secret_key: str, day: str, region: str, service: str, text: str) -> str:
    signer = _signing_key(secret_key, day, region, service).copy()  # the keyed state, reused
    signer.update(text.encode())
    return signer.hexdigest()


class _DayKeySigV4Auth(SigV4Auth):
    """botocore's SigV4 signer with the day's signing key derived once. Uploads are checked
    with botocore's own signer (``_v4_policy_signature``), so the two cannot drift apart."""

    # set by botocore's __init__; botocore-stubs leaves the private ones out
    credentials: Credentials
    _region_name: str
    _service_name: str

    def signature(self, string_to_sign: str, request: AWSRequest) -> str:
        return _sigv4_signature(self.credentials.secret_key, request.context["timestamp"][:8],
                                self._region_name, self._service_name, string_to_sign)


class _ClockedQueryAuth(_DayKeySigV4Auth, S3SigV4QueryAuth):
    """botocore's presigned-URL signer, at a given time instead of the system clock."""

    def sign_at(self, request: AWSRequest) -> None:
        # botocore's own methods, which botocore-stubs leaves out as private
        self._modify_request_before_signing(request)  # type: ignore[attr-defined]
        canonical_request = self.canonical_request(request)
        string_to_sign = self.string_to_sign(request, canonical_request)
        self._inject_signature_to_request(  # type: ignore[attr-defined]
            request, self.signature(string_to_sign, request))


def _root_url(request: Request) -> str:
    """Where the client sent the request, which URLs and signatures are made from."""
    problem = origin_problem(request.scheme, request.host, request.environ.get("HTTP_HOST"))
    if problem is not None:
        raise S3Error(400, "InvalidArgument", problem)
    return request.root_url


def _sigv4_timestamp(moment: datetime) -> str:
    """``SIGV4_TIMESTAMP`` (``%Y%m%dT%H%M%SZ``) at a third of ``strftime``'s cost (the mock
    clock's years all have four digits)."""
    moment = utc(moment)
    return "%04d%02d%02dT%02d%02d%02dZ" % (  # noqa: UP031 - 40% faster than an f-string
        moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)


def _check_expires_bounds(expires_in: int) -> None:
    """S3's own limits on a presigned URL's lifetime, checked before its signature."""
    if expires_in < 0:
        raise S3Error(400, "AuthorizationQueryParametersError",
                      "X-Amz-Expires must be non-negative")
    if expires_in > MAX_EXPIRES_SECONDS:
        raise S3Error(400, "AuthorizationQueryParametersError",
                      f"X-Amz-Expires must be less than a week (in seconds) that is "
                      f"{MAX_EXPIRES_SECONDS}")


def _without_signature(url: str, query: MultiDict[str, str]) -> str:
    """The URL as re-signed locally, with the presented signature: equal iff it verifies."""
    auth = {k: query[k] for k in ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date",
                                  "X-Amz-Expires", "X-Amz-SignedHeaders")}
    separator = "&" if "?" in url else "?"
    signed = url + separator + urlencode(auth, quote_via=quote, safe="-_.~")
    return f"{signed}&X-Amz-Signature={query['X-Amz-Signature']}"


def _decode_policy(encoded: str) -> dict[str, Any]:
    try:
        policy = json.loads(base64.b64decode(encoded, validate=True))
    except (binascii.Error, ValueError):
        raise S3Error(400, "InvalidPolicyDocument",
                      "Invalid Policy: Invalid JSON or base64 encoding.") from None
    if not isinstance(policy, dict) or not isinstance(policy.get("conditions"), list):
        raise S3Error(400, "InvalidPolicyDocument", "Invalid Policy: Missing conditions.")
    return policy


def _expiration(policy: Mapping[str, Any]) -> datetime:
    expiration = policy.get("expiration")
    if expiration is None:
        raise S3Error(400, "InvalidPolicyDocument", "Invalid Policy: Policy missing expiration.")
    if isinstance(expiration, str):
        with contextlib.suppress(ValueError):
            return parse_datetime(expiration)
    raise S3Error(400, "InvalidPolicyDocument",
                  f"Invalid Policy: Invalid 'expiration' value: {json.dumps(expiration)}")


def _check_conditions(conditions: list[Any], fields: Mapping[str, str], size: int) -> None:
    covered = {"bucket"}
    for condition in conditions:
        covered.add(_check_condition(condition, fields, size))
    extra = sorted(
        name for name in fields
        if name not in covered | _UNCHECKED_FIELDS and not name.startswith("x-ignore-")
    )
    if extra:
        raise S3Error(403, "AccessDenied",
                      f"Invalid according to Policy: Extra input fields: {', '.join(extra)}")


def _check_condition(condition: Any, fields: Mapping[str, str], size: int) -> str:
    """Check one policy condition; return the (lower-case) field it covers."""
    failed = S3Error(403, "AccessDenied", "Invalid according to Policy: "
                     f"Policy Condition failed: {json.dumps(condition)}")
    invalid = S3Error(400, "InvalidPolicyDocument",
                      f"Invalid Policy: Invalid Condition: {json.dumps(condition)}")
    if isinstance(condition, dict) and len(condition) == 1:
        ((name, expected),) = condition.items()
        field: str = name.lower()  # JSON: the key is a string
        if fields.get(field) != str(expected):
            raise failed
        return field
    is_triple = isinstance(condition, list) and len(condition) == 3
    if is_triple and condition[0] == "content-length-range":
        low, high = _size_bound(condition[1]), _size_bound(condition[2])
        if low is None or high is None:
            raise invalid
        if size > min(high, MAX_UPLOAD_BYTES):
            raise S3Error(400, "EntityTooLarge",
                          "Your proposed upload exceeds the maximum allowed size")
        if size < low:
            raise S3Error(400, "EntityTooSmall",
                          "Your proposed upload is smaller than the minimum allowed size")
        return "content-length-range"
    if is_triple and isinstance(condition[1], str):
        operator, name, expected = condition[0], condition[1].lstrip("$").lower(), str(condition[2])
        value = fields.get(name)
        if value is None or (operator == "eq" and value != expected) or (
            operator == "starts-with" and not value.startswith(expected)
        ):
            raise failed
        return name
    raise invalid


def _size_bound(value: Any) -> int | None:
    """A byte count as a policy may write it: an integer, or its decimal digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    return None


def _upload_answer(fields: Mapping[str, str], location: str, stored: StoredObject) -> Response:
    """S3's answer to a stored upload: a 303 to ``success_action_redirect`` (or the older
    ``redirect``) when that is an http(s) URL, else ``success_action_status`` 200/201, else
    204. ``Location`` is the object's absolute URL (AWS docs, "POST Object")."""
    headers = {"ETag": f'"{stored.etag}"', "Location": location}
    redirect = fields.get("success_action_redirect") or fields.get("redirect") or ""
    if urlsplit(redirect).scheme in ("http", "https"):
        answer = urlencode({"bucket": stored.bucket, "key": stored.key, "etag": headers["ETag"]})
        separator = "&" if urlsplit(redirect).query else "?"
        return Response(status=303, headers={**headers, "Location": redirect + separator + answer})
    success_status = fields.get("success_action_status", "204")
    if success_status == "201":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<PostResponse><Location>{escape(location)}</Location>"
            f"<Bucket>{escape(stored.bucket)}</Bucket><Key>{escape(stored.key)}</Key>"
            f"<ETag>{headers['ETag']}</ETag></PostResponse>"
        )
        return Response(body, status=201, content_type="application/xml", headers=headers)
    return Response(status=200 if success_status == "200" else 204, headers=headers)


def _object_path(bucket: str, key: str) -> str:
    """The path-style resource ``/bucket/key``, the key quoted as botocore quotes it."""
    return f"/{bucket}/{quote(key, safe='/~')}"


def _is_anonymous(request: Request) -> bool:
    return not any(name in request.args for name in (*_V4_QUERY, *_V2_QUERY))


def _object_response(request: Request, stored: StoredObject, data: bytes) -> Response:
    """The object with ``ETag``, ``Last-Modified`` and ``Accept-Ranges``; werkzeug answers
    ``If-None-Match``/``If-Modified-Since`` (304) and a byte range (206)."""
    _check_preconditions(request, stored)
    response = Response(data, status=200, content_type=stored.content_type)
    response.set_etag(stored.etag)
    response.last_modified = stored.uploaded_at
    response.accept_ranges = "bytes"
    try:
        response.make_conditional(_single_range_only(request.environ), accept_ranges=True,
                                  complete_length=stored.size)
    except RequestedRangeNotSatisfiable:
        raise S3Error(416, "InvalidRange", "The requested range is not satisfiable",
                      RangeRequested=request.headers.get("Range", ""),
                      ActualObjectSize=str(stored.size)) from None
    return response


def _single_range_only(environ: Mapping[str, Any]) -> dict[str, Any]:
    """S3 serves one byte range; a ``Range`` it cannot read or with several ranges is
    ignored and the whole object served, so werkzeug does not see such a header."""
    parsed = parse_range_header(environ.get("HTTP_RANGE"))
    if parsed is not None and len(parsed.ranges) == 1:
        return dict(environ)
    return {name: value for name, value in environ.items() if name != "HTTP_RANGE"}


def _check_preconditions(request: Request, stored: StoredObject) -> None:
    """``If-Match`` and ``If-Unmodified-Since``, which S3 answers with 412 when they fail
    (werkzeug's ``make_conditional`` handles only the 304 pair)."""
    if request.if_match:
        holds = request.if_match.contains(stored.etag) or request.if_match.star_tag
        condition = "If-Match"
    elif request.if_unmodified_since is not None:
        holds = stored.uploaded_at.replace(microsecond=0) <= request.if_unmodified_since
        condition = "If-Unmodified-Since"
    else:
        return
    if not holds:
        raise S3Error(412, "PreconditionFailed",
                      "At least one of the pre-conditions you specified did not hold",
                      Condition=condition)
