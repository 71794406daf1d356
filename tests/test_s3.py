"""The mock's S3 as an S3 client meets it: botocore presigns with the fixtures' object-store
keys (SigV4 and SigV2, as boto3 and the aws CLI v1 do) against ``/s3``, ``requests``
sends. Each behaviour is the one AWS documents for GET Object and POST Object."""

from __future__ import annotations

import re
import uuid
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import botocore.session
import pytest
import requests
import yaml
from botocore.config import Config

FIXTURES = Path(__file__).parents[1] / "fixtures" / "default.yaml"
BUCKET = "s3-tests"
DATA = b"0123456789abcdefghijklmnopqrstuvwxyz"  # 36 bytes
LONG_AGO = "Mon, 01 Jan 2001 00:00:00 GMT"


@pytest.fixture(scope="module")
def server(mock_factory):
    return mock_factory()


@pytest.fixture(scope="module")
def clients(server) -> dict[str, Any]:
    """A SigV4 and a SigV2 client of the mock's S3, path-style under ``/s3``."""
    keys = yaml.safe_load(FIXTURES.read_text("utf-8"))["object_store"]
    session = botocore.session.get_session()
    return {version: session.create_client(
        "s3", region_name="us-east-1", endpoint_url=server.url("/s3"),
        aws_access_key_id=keys["access_key_id"], aws_secret_access_key=keys["secret_access_key"],
        config=Config(signature_version=version, s3={"addressing_style": "path"}),
    ) for version in ("s3v4", "s3")}


@pytest.fixture
def s3(server, clients):
    server.reset()  # the mock clock back to real time, which botocore signs with
    return clients["s3v4"]


def presigned_post(s3, key: str, fields: dict[str, str] | None = None) -> dict[str, Any]:
    fields = fields or {}
    return s3.generate_presigned_post(BUCKET, key, Fields=fields, ExpiresIn=300,
                                      Conditions=[{name: value} for name, value in fields.items()])


def upload(s3, key: str | None = None, data: bytes = DATA, **fields: str) -> requests.Response:
    post = presigned_post(s3, key or f"objects/{uuid.uuid4()}.txt", fields)
    return requests.post(post["url"], data=post["fields"], timeout=10, allow_redirects=False,
                         files={"file": ("notes.txt", data, "text/plain")})


@pytest.fixture
def stored(s3) -> str:
    """A freshly uploaded private object's key."""
    key = f"objects/{uuid.uuid4()} notes.txt"
    assert upload(s3, key).status_code == 204
    return key


def get_url(s3, key: str, method: str = "get_object") -> str:
    return str(s3.generate_presigned_url(method, Params={"Bucket": BUCKET, "Key": key},
                                         ExpiresIn=60))


# -- presigned GET ---------------------------------------------------------------------------

@pytest.mark.parametrize(("range_", "status", "body", "content_range"), [
    ("bytes=0-3", 206, DATA[:4], "bytes 0-3/36"),
    ("bytes=30-", 206, DATA[30:], "bytes 30-35/36"),
    ("bytes=-4", 206, DATA[-4:], "bytes 32-35/36"),
    ("bytes=10-1000", 206, DATA[10:], "bytes 10-35/36"),
    ("bytes=0-1,4-5", 200, DATA, None),  # S3 serves one range; several: the whole object
    ("pages=1", 200, DATA, None),
    ("bytes=36-", 416, None, None),
])
def test_a_range_answers_206_and_past_the_end_416(s3, stored, range_, status, body,
                                                  content_range):
    answer = requests.get(get_url(s3, stored), headers={"Range": range_}, timeout=10)
    assert answer.status_code == status, answer.text
    if status == 416:
        assert "<Code>InvalidRange</Code>" in answer.text
        assert "<ActualObjectSize>36</ActualObjectSize>" in answer.text
        return
    assert answer.content == body and answer.headers.get("Content-Range") == content_range
    assert answer.headers["Accept-Ranges"] == "bytes"
    assert answer.headers["ETag"].strip('"') and answer.headers["Last-Modified"]


@pytest.mark.parametrize(("header", "value", "status"), [
    ("If-None-Match", "{etag}", 304),
    ("If-None-Match", '"another"', 200),
    ("If-Modified-Since", "{last_modified}", 304),
    ("If-Modified-Since", LONG_AGO, 200),
    ("If-Match", "{etag}", 200),
    ("If-Match", '"another"', 412),
    ("If-Unmodified-Since", "{last_modified}", 200),
    ("If-Unmodified-Since", LONG_AGO, 412),
])
def test_conditional_gets_answer_304_and_412(s3, stored, header, value, status):
    url = get_url(s3, stored)
    first = requests.get(url, timeout=10)
    values = {"etag": first.headers["ETag"], "last_modified": first.headers["Last-Modified"]}
    answer = requests.get(url, headers={header: value.format(**values)}, timeout=10)
    assert answer.status_code == status, answer.text
    if status == 412:
        assert "<Code>PreconditionFailed</Code>" in answer.text
        assert f"<Condition>{header}</Condition>" in answer.text
    elif status == 304:
        assert not answer.content and answer.headers["ETag"] == values["etag"]


def test_the_method_is_signed_so_a_get_url_serves_no_head(s3, stored):
    assert requests.head(get_url(s3, stored), timeout=10).status_code == 403
    head = requests.head(get_url(s3, stored, "head_object"), timeout=10)
    assert head.status_code == 200 and head.headers["Content-Length"] == str(len(DATA))
    assert parsedate_to_datetime(head.headers["Last-Modified"]).year >= 2024
    assert requests.get(get_url(s3, stored, "head_object"), timeout=10).status_code == 403


def test_sigv2_query_string_urls_are_verified(server, clients, stored):
    url = get_url(clients["s3"], stored)
    assert "Signature=" in url and "X-Amz-" not in url
    answer = requests.get(url, headers={"Range": "bytes=0-9"}, timeout=10)
    assert answer.status_code == 206 and answer.content == DATA[:10]
    tampered = re.sub(r"Signature=[^&]+", "Signature=AAAA", url)
    other_key = url.replace(stored.split("/")[1][:8], "00000000")
    unknown_id = url.replace("AWSAccessKeyId=", "AWSAccessKeyId=X")
    for refused, code in ((tampered, "SignatureDoesNotMatch"),
                          (other_key, "SignatureDoesNotMatch"), (unknown_id, "InvalidAccessKeyId")):
        answer = requests.get(refused, timeout=10)
        assert answer.status_code == 403 and f"<Code>{code}</Code>" in answer.text, refused
    assert requests.head(url, timeout=10).status_code == 403
    server.advance(120)
    expired = requests.get(url, timeout=10)
    assert expired.status_code == 403 and "Request has expired" in expired.text


# -- presigned POST --------------------------------------------------------------------------

def _form(post: dict[str, Any], layout: str) -> list[tuple[str, tuple[str | None, Any]]]:
    """The presigned fields and file parts in the order ``layout`` names them: F fields,
    f the file, t a file part without a filename (text content), x a field S3 never signed."""
    fields = [(name, (None, value)) for name, value in post["fields"].items()]
    parts = {"F": fields, "f": [("file", ("notes.txt", DATA))],
             "t": [("file", (None, "typed text"))], "x": [("x-unsigned", (None, "v"))]}
    return [part for letter in layout for part in parts[letter]]


@pytest.mark.parametrize(("layout", "status", "stored"), [
    ("Ff", 204, DATA),
    ("Ffx", 204, DATA),  # after the file: ignored, as S3 reads the form top to bottom
    ("Fxf", 403, None),  # before it: an extra input field the policy does not cover
    ("fF", 403, None),  # the file first: no policy read
    ("Fff", 400, None),
    ("F", 400, None),
    ("Ft", 204, b"typed text"),
])
def test_the_form_is_read_in_order_with_exactly_one_file(s3, layout, status, stored):
    key = f"objects/{uuid.uuid4()}.txt"
    post = presigned_post(s3, key)
    answer = requests.post(post["url"], files=_form(post, layout), timeout=10)
    assert answer.status_code == status, answer.text
    if stored is None:
        assert answer.text.startswith("<?xml")
        assert requests.get(get_url(s3, key), timeout=10).status_code == 404
    else:
        assert requests.get(get_url(s3, key), timeout=10).content == stored


def test_the_201_location_is_absolute_and_downloads_a_public_object(s3):
    answer = upload(s3, acl="public-read", success_action_status="201")
    assert answer.status_code == 201
    location = answer.headers["Location"]
    assert f"<Location>{location}</Location>" in answer.text
    assert location.startswith(s3.meta.endpoint_url + f"/{BUCKET}/objects/")
    assert requests.get(location, timeout=10).content == DATA
    private = upload(s3, success_action_status="201")
    assert requests.get(private.headers["Location"], timeout=10).status_code == 403


def test_success_action_redirect_answers_303_with_bucket_key_and_etag(s3):
    answer = upload(s3, "objects/redirected.txt",
                    success_action_redirect="https://app.example/done?x=1")
    assert answer.status_code == 303
    assert answer.headers["Location"].startswith("https://app.example/done?x=1&bucket=s3-tests&"
                                                 "key=objects%2Fredirected.txt&etag=")

