"""Access settings from environment variables or Streamlit's `secrets.toml`, and whether they are enough to serve."""

from __future__ import annotations

import ipaddress
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.datasets.sources import DATA_DIR_ENV

# Environment variables win over `[explorer]` in secrets.toml, so a one-off `make serve` needs no file.
ENV = {
    "password": "EXPLORER_PASSWORD",
    "admin_password": "EXPLORER_ADMIN_PASSWORD",
    "admins": "EXPLORER_ADMINS",
    "allowed_emails": "EXPLORER_ALLOWED_EMAILS",
    "data_root": "EXPLORER_DATA_ROOT",
    "max_queue": "EXPLORER_MAX_QUEUE",
}
# Where Streamlit itself looks for secrets: the user's, then the app folder's (which wins).
SECRETS_FILES = (Path.home() / ".streamlit" / "secrets.toml", Path(".streamlit") / "secrets.toml")
MIN_PASSWORD_LENGTH = 10
DEFAULT_MAX_QUEUE = 6
WHAT_TO_SET = (
    "set EXPLORER_PASSWORD (viewers) and EXPLORER_ADMIN_PASSWORD (admins), at least "
    f"{MIN_PASSWORD_LENGTH} characters each, or an [auth] login with EXPLORER_ALLOWED_EMAILS "
    "(README, Serving a class)"
)


def read_secrets_files(files: tuple[Path, ...] = SECRETS_FILES) -> dict[str, Any]:
    """The secrets Streamlit would see, read without Streamlit (for `make serve`'s check)."""
    merged: dict[str, Any] = {}
    for path in files:
        if path.is_file():
            with path.open("rb") as handle:
                merged.update(tomllib.load(handle))
    return merged


def _names(value: object) -> tuple[str, ...]:
    """A list from TOML, or a comma-separated string from the environment, lower-cased."""
    items = value if isinstance(value, (list, tuple)) else str(value or "").split(",")
    return tuple(str(item).strip().lower() for item in items if str(item).strip())


def _positive_int(value: object, default: int) -> int:
    if value in (None, ""):
        return default
    try:
        number = int(str(value))
    except ValueError:
        number = 0
    if number < 1:
        raise ValueError(f"max_queue (EXPLORER_MAX_QUEUE) must be a whole number of at least 1, not {value!r}.")
    return number


@dataclass(frozen=True)
class AccessSettings:
    """How people prove who they are when the app is served, and the limits that keep a shared server fair."""

    password: str = ""
    admin_password: str = ""
    # OpenID Connect login through Streamlit's st.login, configured under [auth] in secrets.toml.
    oidc: bool = False
    admins: tuple[str, ...] = ()
    allowed_emails: tuple[str, ...] = ()
    data_root: Path | None = None
    # EXPLORER_DATA_DIR, the data folder the server starts with: it too must lie inside data_root.
    data_dir: Path | None = None
    max_queue: int = DEFAULT_MAX_QUEUE

    @classmethod
    def load(cls, secrets: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None):
        """Settings from `secrets` (Streamlit's, or the files) with environment variables on top."""
        secrets = read_secrets_files() if secrets is None else secrets
        environ = os.environ if environ is None else environ
        section = dict(secrets.get("explorer", {}) or {})
        # An empty variable is no setting: it does not hide the file's value.
        value = {key: environ.get(variable) or section.get(key) for key, variable in ENV.items()}
        auth = secrets.get("auth", {}) or {}
        root = str(value["data_root"] or "").strip()
        return cls(
            password=str(value["password"] or ""),
            admin_password=str(value["admin_password"] or ""),
            oidc=bool(auth.get("redirect_uri") and auth.get("cookie_secret")),
            admins=_names(value["admins"]),
            allowed_emails=_names(value["allowed_emails"]),
            data_root=Path(root).expanduser().resolve() if root else None,
            data_dir=Path(environ[DATA_DIR_ENV]).expanduser().resolve() if environ.get(DATA_DIR_ENV) else None,
            max_queue=_positive_int(value["max_queue"], DEFAULT_MAX_QUEUE),
        )

    def is_serving(self, address: str | None) -> bool:
        """Whether the app is served to others: bound beyond this machine, or a login set up (say, behind a proxy)."""
        return self.login_configured or not is_loopback(address)

    @property
    def login_configured(self) -> bool:
        """Whether anyone set up a login: then the app asks for it, even on this machine."""
        return bool(self.password or self.admin_password or self.oidc)

    def serving_problem(self) -> str | None:
        """Why these settings are not safe enough to serve the app to others, in one line; None if they are."""
        if not self.login_configured:
            return f"Serving to other machines needs a login: {WHAT_TO_SET}."
        for name, password in (("EXPLORER_PASSWORD", self.password), ("EXPLORER_ADMIN_PASSWORD", self.admin_password)):
            if password and len(password) < MIN_PASSWORD_LENGTH:
                return f"{name} is too short: use at least {MIN_PASSWORD_LENGTH} characters."
        if self.password and self.password == self.admin_password:
            return "EXPLORER_PASSWORD and EXPLORER_ADMIN_PASSWORD are the same: viewers would be admins."
        if self.data_dir and not (self.data_root and self.data_dir.is_relative_to(self.data_root)):
            return f"{DATA_DIR_ENV} must be a folder inside EXPLORER_DATA_ROOT when the app is served."
        if self.oidc and not self.allowed_emails:
            return "The [auth] login lets in anyone the provider knows: set EXPLORER_ALLOWED_EMAILS (emails, @domains)."
        return None


def is_loopback(address: str | None) -> bool:
    """Whether a server bound to `address` is reachable only from this machine ("" means every interface)."""
    if not address:
        return False
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
