"""What the vendors' documents name, written down independently of the specs.

The spec tests check every entry here against ``specs/``, so nothing a document names
(an operation, a status, an error message, a sample body) can silently drop out.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

SEEDS = Path(__file__).resolve().parents[2] / "shared" / "seeds"

#: (api, method, path relative to the base path, operationId)
OPERATIONS = [
    ("captureproof", "GET", "/patients/{patient_id}/proofs/{proof_id}/captures", "listCaptures"),
    ("captureproof", "GET", "/patients/{patient_id}/proofs/{proof_id}/captures/new",
     "getUploadCredentials"),
    ("captureproof", "POST", "/patients/{patient_id}/proofs/{proof_id}/captures", "createCapture"),
    ("captureproof", "GET",
     "/patients/{patient_id}/proofs/{proof_id}/captures/{capture_id}/is_media_processed",
     "isMediaProcessed"),
    ("captureproof", "POST", "/sessions", "createSession"),
    ("captureproof", "DELETE", "/sessions", "deleteSession"),
    ("mycrt", "GET", "/captures", "listCaptures"),
    ("mycrt", "GET", "/captures/{id}", "getCapture"),
    ("mycrt", "GET", "/captures/{id}/metrics", "getCaptureMetrics"),
    ("mycrt", "POST", "/captures/{id}/stop", "stopCapture"),
    ("mycrt", "PUT", "/captures/{id}", "editCapture"),
    ("mycrt", "POST", "/captures", "createCapture"),
    ("mycrt", "DELETE", "/captures/{id}", "deleteCapture"),
    ("mycrt", "POST", "/users/login", "login"),
    ("mycrt", "PUT", "/users/logout", "logout"),
    ("mycrt", "GET", "/users/me", "getCurrentUser"),
    ("biometricscloud", "POST", "/files", "createFile"),
    ("biometricscloud", "GET", "/files", "listFiles"),
    ("biometricscloud", "GET", "/file/{id}", "retrieveFile"),
    ("biometricscloud", "PUT", "/file/{id}", "updateFile"),
    ("biometricscloud", "DELETE", "/file/{id}", "deleteFile"),
    ("biometricscloud", "POST", "/login", "login"),
    ("uplift", "POST", "/captures", "createCapture"),
    ("uplift", "GET", "/captures", "listCaptures"),
    ("uplift", "GET", "/captures/{captureId}", "getCapture"),
]

#: (api, operationId, status, message) for every error body a document shows
ERROR_MESSAGES = [
    ("mycrt", "listCaptures", 404, "Environment does not exist"),
    ("mycrt", "getCapture", 404, "Capture's environment not found"),
    ("mycrt", "getCaptureMetrics", 404, "Capture's environment not found"),
    ("mycrt", "stopCapture", 404, "Capture not found"),
    ("mycrt", "stopCapture", 409, "This capture has already been stopped"),
    ("mycrt", "stopCapture", 409, "This capture failed and is no longer running"),
    ("mycrt", "stopCapture", 409,
     "Cannot stop a capture until it has started completely. Try again soon."),
    ("mycrt", "editCapture", 400, "Capture with the same name already exists in this environment"),
    ("mycrt", "editCapture", 404, "Capture not found"),
    ("mycrt", "createCapture", 400,
     "Capture with the same name already exists in this environment"),
    ("mycrt", "createCapture", 400, "Duration must be at least 60 seconds"),
    ("mycrt", "createCapture", 400, "Cannot schedule without a schedule start time"),
    ("mycrt", "deleteCapture", 404, "Capture not found"),
    ("uplift", "createCapture", 400,
     "The request parameters are invalid. Please review the request and try again."),
    ("uplift", "createCapture", 401, "Bearer token is missing or invalid."),
    ("uplift", "createCapture", 403, "You do not have permission to access this resource."),
    ("uplift", "createCapture", 404,
     "The organization does not have an execution user configured for captures."),
    ("uplift", "createCapture", 429,
     "The rate limit has been exceeded. Please wait and try again later."),
    ("uplift", "createCapture", 500,
     "An unexpected error occurred on the server. Please try again later."),
    ("uplift", "createCapture", 503,
     "Temporary upstream video reservation issue. Please retry shortly."),
    ("uplift", "getCapture", 404, "Capture not found."),
]


@dataclass(frozen=True)
class Sample:
    seed: str
    index: int  # the n-th JSON body in the document
    api: str
    operation_id: str
    target: str  # "request" or a status code


#: every valid JSON body of the documents, and what it is a sample of
SAMPLES = [
    Sample("000", 1, "captureproof", "getUploadCredentials", "200"),
    Sample("000", 3, "captureproof", "isMediaProcessed", "200"),
    Sample("001", 0, "mycrt", "listCaptures", "200"),
    Sample("001", 1, "mycrt", "listCaptures", "404"),
    Sample("001", 2, "mycrt", "getCapture", "200"),
    Sample("001", 3, "mycrt", "getCapture", "404"),
    Sample("001", 4, "mycrt", "getCaptureMetrics", "404"),
    Sample("001", 5, "mycrt", "stopCapture", "404"),
    Sample("001", 6, "mycrt", "stopCapture", "409"),
    Sample("001", 7, "mycrt", "stopCapture", "409"),
    Sample("001", 8, "mycrt", "stopCapture", "409"),
    Sample("001", 9, "mycrt", "editCapture", "request"),
    Sample("001", 10, "mycrt", "editCapture", "400"),
    Sample("001", 11, "mycrt", "editCapture", "404"),
    Sample("001", 12, "mycrt", "createCapture", "request"),
    Sample("001", 13, "mycrt", "createCapture", "200"),
    Sample("001", 14, "mycrt", "createCapture", "400"),
    Sample("001", 15, "mycrt", "createCapture", "400"),
    Sample("001", 16, "mycrt", "createCapture", "400"),
    Sample("001", 17, "mycrt", "deleteCapture", "404"),
    Sample("003", 0, "biometricscloud", "createFile", "200"),
    Sample("003", 1, "biometricscloud", "createFile", "request"),
    Sample("003", 2, "biometricscloud", "createFile", "request"),
    Sample("003", 3, "biometricscloud", "listFiles", "200"),
    Sample("003", 4, "biometricscloud", "retrieveFile", "200"),
    Sample("003", 5, "biometricscloud", "updateFile", "200"),
    Sample("003", 6, "biometricscloud", "updateFile", "request"),
    Sample("003", 7, "biometricscloud", "updateFile", "request"),
    Sample("004", 0, "uplift", "createCapture", "request"),
]

#: valid JSON in the documents that is deliberately not checked, and why
PLACEHOLDERS = {
    ("000", 0): "'LNK[Capture entities](#capture)' stands for a list of Capture objects",
    ("000", 2): "the same placeholder, as the media-processed answer",
}

_BLOCK = re.compile(r"```[^\n]*\n(.*?)```", re.S)
_CURL_BODY = re.compile(r"-d '(.*?)'", re.S)


def seed_text(prefix: str) -> str:
    (path,) = SEEDS.glob(f"{prefix}_*.txt")
    return path.read_text("utf-8")


def json_bodies(prefix: str) -> list[object]:
    """Valid JSON code blocks and curl ``-d`` bodies, in document order."""
    bodies: list[object] = []
    for block in _BLOCK.findall(seed_text(prefix)):
        for candidate in [block, *_CURL_BODY.findall(block)]:
            try:
                bodies.append(json.loads(candidate))
            except json.JSONDecodeError:
                continue
    return bodies
