"""S3's error answer: a status, a code and a message in S3's XML, with optional details."""

from __future__ import annotations

from xml.sax.saxutils import escape

from flask import Response


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
