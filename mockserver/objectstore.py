"""The mock's S3: presigned POST uploads and presigned GET downloads on the mock's own port.

Signatures are made and re-derived with botocore's signers, so they carry exactly the fields
a real AWS SDK produces: SigV2 POST policies (CaptureProof's sample), SigV4 POST policies
(Uplift) and SigV4 query-string GETs (Biometrics Cloud's ``file_url``). Times come from the
mock clock, not the system's, so expiries follow ``POST /__admin/clock``.

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
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import quote, urlencode
from xml.sax.saxutils import escape

from botocore.auth import SIGV4_TIMESTAMP, HmacV1Auth, S3SigV4QueryAuth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from flask import Response
from werkzeug.datastructures import FileStorage, MultiDict

from mockserver.clock import Clock, isoformat, parse_datetime, utc
from mockserver.store import StateStore

PATH_PREFIX = "/s3"
_KIND = "s3object"
#: fields S3 never checks against the policy (AWS docs, "Creating a POST policy")
_UNCHECKED_FIELDS = {"policy", "signature", "awsaccesskeyid", "x-amz-signature", "file"}
#: the mock keeps uploads in memory or SQLite, so it accepts less than S3's 5 GiB
MAX_UPLOAD_BYTES = 100 * 1024 * 1024
#: S3 refuses a presigned URL valid for longer than a week
MAX_EXPIRES_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class StoredObject:
    bucket: str
    key: str
    size: int
    content_type: str
    etag: str
    uploaded_at: datetime


class S3Error(Exception):
    def __init__(self, status: int, code: str, message: str, **details: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details

    def response(self) -> Response:
        extra = "".join(f"<{name}>{escape(value)}</{name}>" for name, value in self.details.items())
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{self.code}</Code><Message>{escape(self.message)}</Message>"
            f"{extra}</Error>"
        )
        return Response(body, status=self.status, content_type="application/xml")


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

    def put(self, bucket: str, key: str, data: bytes, content_type: str) -> StoredObject:
        stored = StoredObject(
            bucket, key, len(data), content_type, hashlib.md5(data).hexdigest(), self._clock.now()
        )
        self._store.put_blob(f"{bucket}/{key}", data)
        self._store.put(_KIND, f"{bucket}/{key}", {
            "bucket": bucket, "key": key, "size": stored.size, "content_type": content_type,
            "etag": stored.etag, "uploaded_at": isoformat(stored.uploaded_at),
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
        policy = self._policy(expires_in, [*conditions, {"bucket": bucket}])
        signature = HmacV1Auth(self._credentials).sign_string(policy)
        return {**fields, "AWSAccessKeyId": self._credentials.access_key,
                "policy": policy, "signature": signature}

    def presign_post_v4(
        self, bucket: str, fields: Mapping[str, str], conditions: list[Any], expires_in: int
    ) -> dict[str, str]:
        """Fields for an S3 POST signed with SigV4, as boto3's ``generate_presigned_post``."""
        signer_request = self._signer_request(_sigv4_timestamp(self._clock.now()))
        signer = SigV4Auth(self._credentials, "s3", self._region)
        amz = {
            "x-amz-algorithm": "AWS4-HMAC-SHA256",
            "x-amz-credential": signer.scope(signer_request),
            "x-amz-date": signer_request.context["timestamp"],
        }
        policy = self._policy(
            expires_in, [*conditions, {"bucket": bucket}, *({k: v} for k, v in amz.items())]
        )
        return {**fields, **amz, "policy": policy,
                "x-amz-signature": signer.signature(policy, signer_request)}

    def presign_get(self, host_url: str, bucket: str, key: str, expires_in: int) -> str:
        return self._sign_get_url(self._object_url(host_url, bucket, key), self._clock.now(),
                                  expires_in)

    def _policy(self, expires_in: int, conditions: list[Any]) -> str:
        expiration = isoformat(self._clock.now() + timedelta(seconds=expires_in))
        document = {"expiration": expiration, "conditions": conditions}
        return base64.b64encode(json.dumps(document).encode()).decode()

    @staticmethod
    def _signer_request(timestamp: str, url: str = "https://s3.amazonaws.com/") -> AWSRequest:
        request = AWSRequest(method="GET", url=url)
        request.context["timestamp"] = timestamp
        return request

    @staticmethod
    def _object_url(host_url: str, bucket: str, key: str) -> str:
        return f"{host_url.rstrip('/')}{PATH_PREFIX}/{bucket}/{quote(key, safe='/~')}"

    def _sign_get_url(self, url: str, moment: datetime, expires_in: int) -> str:
        return self._signed_get_url(url, _sigv4_timestamp(moment), expires_in)

    def _sign_get_url_at(self, url: str, timestamp: str, expires_in: int) -> str:
        request = self._signer_request(timestamp, url)
        signer = _ClockedQueryAuth(self._credentials, "s3", self._region, expires=expires_in)
        signer.sign_at(request)
        return str(request.url)

    # -- serving ---------------------------------------------------------------------------

    def serve_post(self, bucket: str, form: MultiDict[str, str],
                   files: MultiDict[str, FileStorage]) -> Response:
        try:
            return self._accept_upload(bucket, form, files)
        except S3Error as error:
            return error.response()

    def serve_get(self, host_url: str, bucket: str, key: str,
                  query: MultiDict[str, str]) -> Response:
        try:
            self._check_get_signature(host_url, bucket, key, query)
            stored, data = self.head(bucket, key), self.read(bucket, key)
            if stored is None or data is None:
                raise S3Error(404, "NoSuchKey", "The specified key does not exist.", Key=key)
        except S3Error as error:
            return error.response()
        return Response(data, status=200, content_type=stored.content_type,
                        headers={"ETag": f'"{stored.etag}"'})

    def _accept_upload(self, bucket: str, form: MultiDict[str, str],
                       files: MultiDict[str, FileStorage]) -> Response:
        upload = files.get("file")
        if upload is None or len(files) != 1:
            raise S3Error(400, "InvalidArgument",
                          "POST requires exactly one file upload per request.")
        fields = {name.lower(): value for name, value in form.items()}
        policy = self._verified_policy(fields)
        data = upload.read()
        key = fields.get("key", "").replace("${filename}", upload.filename or "")
        fields = {**fields, "key": key, "bucket": bucket}
        _check_conditions(policy["conditions"], fields, len(data))
        content_type = fields.get("content-type") or upload.mimetype or "binary/octet-stream"
        stored = self.put(bucket, key, data, content_type)
        return _upload_answer(fields.get("success_action_status", "204"), stored)

    def _verified_policy(self, fields: Mapping[str, str]) -> dict[str, Any]:
        encoded = fields.get("policy")
        if not encoded:
            raise S3Error(403, "AccessDenied", "Bucket POST must contain a field named 'policy'.")
        if "x-amz-signature" in fields:
            expected = self._v4_policy_signature(encoded, fields)
            presented = fields["x-amz-signature"]
        else:
            if fields.get("awsaccesskeyid") != self._credentials.access_key:
                raise S3Error(403, "InvalidAccessKeyId",
                              "The AWS Access Key Id you provided does not exist in our records.")
            expected = HmacV1Auth(self._credentials).sign_string(encoded)
            presented = fields.get("signature", "")
        if not hmac.compare_digest(expected, presented):
            raise S3Error(403, "SignatureDoesNotMatch",
                          "The request signature we calculated does not match the signature "
                          "you provided. Check your key and signing method.")
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

    def _check_get_signature(self, host_url: str, bucket: str, key: str,
                             query: MultiDict[str, str]) -> None:
        required = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires",
                    "X-Amz-SignedHeaders", "X-Amz-Signature")
        if any(name not in query for name in required):
            raise S3Error(403, "AccessDenied", "Access Denied")
        try:
            moment = datetime.strptime(query["X-Amz-Date"], SIGV4_TIMESTAMP)
            expires_in = int(query["X-Amz-Expires"])
        except ValueError:
            raise S3Error(400, "AuthorizationQueryParametersError",
                          "X-Amz-Date or X-Amz-Expires is malformed.") from None
        _check_expires_bounds(expires_in)
        base_query = {k: v for k, v in query.items() if not k.startswith("X-Amz-")}
        url = self._object_url(host_url, bucket, key)
        if base_query:
            url += "?" + urlencode(base_query)
        if self._sign_get_url(url, moment, expires_in) != _without_signature(url, query):
            raise S3Error(403, "SignatureDoesNotMatch",
                          "The request signature we calculated does not match the signature "
                          "you provided. Check your key and signing method.")
        if self._clock.now() - utc(moment) > timedelta(seconds=expires_in):
            raise S3Error(403, "AccessDenied", "Request has expired",
                          Expires=isoformat(utc(moment) + timedelta(seconds=expires_in)))


class _ClockedQueryAuth(S3SigV4QueryAuth):
    """botocore's presigned-URL signer, at a given time instead of the system clock."""

    def sign_at(self, request: AWSRequest) -> None:
        self._modify_request_before_signing(request)
        canonical_request = self.canonical_request(request)
        string_to_sign = self.string_to_sign(request, canonical_request)
        self._inject_signature_to_request(request, self.signature(string_to_sign, request))


def _sigv4_timestamp(moment: datetime) -> str:
    return utc(moment).strftime(SIGV4_TIMESTAMP)


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
        if fields.get(name.lower()) != str(expected):
            raise failed
        return name.lower()
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


def _upload_answer(success_status: str, stored: StoredObject) -> Response:
    headers = {"ETag": f'"{stored.etag}"', "Location": f"/{stored.bucket}/{stored.key}"}
    if success_status == "201":
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<PostResponse><Location>{escape(headers['Location'])}</Location>"
            f"<Bucket>{escape(stored.bucket)}</Bucket><Key>{escape(stored.key)}</Key>"
            f"<ETag>{headers['ETag']}</ETag></PostResponse>"
        )
        return Response(body, status=201, content_type="application/xml", headers=headers)
    return Response(status=200 if success_status == "200" else 204, headers=headers)
