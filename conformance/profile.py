"""The conformance profile (INTERFACES.md): the accounts the suite may use on a target."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import yaml

#: keys each account must have, per API (INTERFACES.md); more keys are allowed
REQUIRED_KEYS: dict[str, dict[str, tuple[str, ...]]] = {
    "captureproof": {"primary": ("token", "patient_id", "proof_id"),
                     "secondary": ("token", "patient_id", "proof_id")},
    "mycrt": {"primary": ("email", "password", "env_id"),
              "secondary": ("email", "password", "env_id")},
    "biometricscloud": {"primary": ("token",), "secondary": ("token",)},
    "uplift": {"primary": ("api_key", "athlete_id", "session_group_id"),
               "secondary": ("api_key", "athlete_id")},
}


class ProfileError(ValueError):
    pass


def fixtures_url(base_url: str) -> str:
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}/__admin/fixtures"


def load_profile(api: str, source: str | None, base_url: str) -> dict[str, Any]:
    """This API's accounts from a file, a URL, or the mock's ``/__admin/fixtures``."""
    document = _read(source or fixtures_url(base_url))
    if not isinstance(document, dict) or not isinstance(document.get(api), dict):
        raise ProfileError(f"the profile has no section for {api!r}")
    section: dict[str, Any] = document[api]
    for role, keys in REQUIRED_KEYS[api].items():
        account = section.get(role)
        if not isinstance(account, dict):
            raise ProfileError(f"profile {api}.{role} is missing")
        missing = [key for key in keys if account.get(key) in (None, "")]
        if missing:
            raise ProfileError(f"profile {api}.{role} lacks {', '.join(missing)}")
    return section


def _read(source: str) -> Any:
    try:
        if source.startswith(("http://", "https://")):
            response = requests.get(source, timeout=10)
            if response.status_code != 200:
                raise ProfileError(f"{source} answered {response.status_code}; pass --profile")
            return response.json()
        return yaml.safe_load(Path(source).read_text("utf-8"))
    except requests.RequestException as error:
        raise ProfileError(f"cannot read the profile from {source}: {error}") from None
    except (OSError, ValueError, yaml.YAMLError) as error:
        raise ProfileError(f"cannot read the profile {source}: {error}") from None
