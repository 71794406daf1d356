"""The form of an S3 browser POST, read in the order its parts arrive.

S3 reads the form top to bottom: the fields before the ``file`` part are the request, the
``file`` part is the object, and whatever follows it is ignored (AWS docs, "Creating an HTML
form": "The file or text content must be the last field in the form"). Werkzeug's form
parser returns fields and files as two unordered dictionaries, so the body is decoded here
with werkzeug's own incremental ``MultipartDecoder``, which reports the parts in order.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import IO

from werkzeug.sansio.multipart import (
    Data,
    Epilogue,
    Event,
    Field,
    File,
    MultipartDecoder,
    NeedData,
)

from mockserver.s3errors import S3Error

_CHUNK_BYTES = 64 * 1024


def _malformed() -> S3Error:
    return S3Error(400, "MalformedPOSTRequest",
                   "The body of your POST request is not well-formed multipart/form-data.")


def _not_one_file(count: int) -> S3Error:
    return S3Error(400, "InvalidArgument", "POST requires exactly one file upload per request.",
                   ArgumentName="file", ArgumentValue=str(count))


@dataclass
class Part:
    name: str
    filename: str | None
    content_type: str | None
    data: bytearray = field(default_factory=bytearray)


@dataclass(frozen=True)
class PostForm:
    """The fields before the file (names lower-cased, S3 matches them so) and the file."""

    fields: dict[str, str]
    file: Part


def read_post_form(mimetype: str, boundary: str | None, stream: IO[bytes]) -> PostForm:
    """The form as S3 understands it; S3's own errors for a body it would refuse."""
    if mimetype != "multipart/form-data":
        raise S3Error(412, "PreconditionFailed",
                      "At least one of the pre-conditions you specified did not hold",
                      Condition="Bucket POST must be of the enclosure-type multipart/form-data")
    if not boundary:
        raise _malformed()
    return _ordered_form(list(_parts(MultipartDecoder(boundary.encode("latin-1")), stream)))


def _ordered_form(parts: list[Part]) -> PostForm:
    names = [part.name.lower() for part in parts]
    if names.count("file") != 1:
        raise _not_one_file(names.count("file"))
    position = names.index("file")
    fields: dict[str, str] = {}
    for name, part in zip(names[:position], parts[:position], strict=True):
        fields.setdefault(name, part.data.decode("utf-8", "replace"))
    return PostForm(fields, parts[position])


def _parts(decoder: MultipartDecoder, stream: IO[bytes]) -> Iterator[Part]:
    """Every part with its bytes; a body cut short or not multipart at all is malformed."""
    current: Part | None = None
    for event in _events(decoder, stream):
        if isinstance(event, (Field, File)):
            if current is not None:
                yield current
            current = Part(event.name, event.filename if isinstance(event, File) else None,
                           event.headers.get("Content-Type"))
        elif isinstance(event, Data) and current is not None:
            current.data += event.data
    if current is not None:
        yield current


def _events(decoder: MultipartDecoder, stream: IO[bytes]) -> Iterator[Event]:
    try:
        while True:
            chunk = stream.read(_CHUNK_BYTES)
            decoder.receive_data(chunk or None)
            event = decoder.next_event()
            while not isinstance(event, (NeedData, Epilogue)):
                yield event
                event = decoder.next_event()
            if isinstance(event, Epilogue):
                return
            if not chunk:  # the body ended before its closing boundary
                raise _malformed()
    except ValueError:  # werkzeug's word for a part it cannot read
        raise _malformed() from None
