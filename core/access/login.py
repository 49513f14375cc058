"""Passwords compared in constant time, email logins mapped to roles, and a back-off after wrong passwords."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from core.access.roles import Role
from core.access.settings import AccessSettings

FREE_TRIES = 3
MAX_WAIT_S = 300.0
# Clients remembered at once; the oldest is forgotten first, so the table cannot grow without bound.
MAX_CLIENTS = 10_000


def _digest(text: str) -> bytes:
    return hashlib.sha256(text.encode()).digest()


def _same(typed: str, expected: str) -> bool:
    # Digests first: compare_digest takes the same time only for inputs of equal length.
    return hmac.compare_digest(_digest(typed), _digest(expected)) and bool(expected)


def role_for_password(settings: AccessSettings, typed: str) -> Role | None:
    """The role a typed password opens, or None; both passwords are always compared."""
    is_admin = _same(typed, settings.admin_password)
    is_viewer = _same(typed, settings.password)
    return Role.ADMIN if is_admin else Role.VIEWER if is_viewer else None


def role_for_email(settings: AccessSettings, email: str | None, verified: object = None) -> Role | None:
    """The role of someone the identity provider vouched for, or None if they are not let in.

    An address the provider itself marks unverified (`email_verified` false) is not let in: anyone
    could have typed it. Providers that send no such claim (Microsoft Entra) verify addresses themselves.
    """
    email = (email or "").strip().lower()
    if not email or "@" not in email or verified is False:
        return None
    if email in settings.admins:
        return Role.ADMIN
    domain = "@" + email.rsplit("@", 1)[1]
    return Role.VIEWER if email in settings.allowed_emails or domain in settings.allowed_emails else None


def client_key(address: object) -> str:
    """Who the back-off counts tries for: an IPv4 address, or an IPv6 client's whole /64 (one home has many)."""
    try:
        ip = ipaddress.ip_address(str(address))
    except ValueError:
        # No address (a test harness, or a proxy hiding it): such clients share one back-off.
        return "unknown address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(getattr(ip, "ipv4_mapped", None) or ip)


class LoginThrottle:
    """Per-client back-off: after FREE_TRIES wrong passwords, wait 1 s, 2 s, 4 s … up to MAX_WAIT_S."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self._failures: OrderedDict[str, tuple[int, float]] = OrderedDict()

    def attempt(self, client: str, check: Callable[[], Role | None]) -> tuple[Role | None, float]:
        """Run `check` (a password compare) unless `client` must wait, and count its outcome.

        Returns the role it opened (or None) and the seconds still to wait (0 if it was tried).
        Waiting, checking and counting happen under one lock, so parallel tries cannot slip through.
        """
        with self._lock:
            wait = self._wait_locked(client)
            if wait > 0:
                return None, wait
            role = check()
            if role is None:
                self._fail_locked(client)
            else:
                self._failures.pop(client, None)
            return role, 0.0

    def failures(self, client: str) -> int:
        """Wrong passwords from this client since its last right one."""
        with self._lock:
            return self._failures.get(client, (0, 0.0))[0]

    def wait_s(self, client: str) -> float:
        """Seconds this client must wait before its next try (0 if it may try now)."""
        with self._lock:
            return self._wait_locked(client)

    def failed(self, client: str) -> None:
        with self._lock:
            self._fail_locked(client)

    def _wait_locked(self, client: str) -> float:
        failures, last = self._failures.get(client, (0, 0.0))
        if failures < FREE_TRIES:
            return 0.0
        delay = min(2.0 ** (failures - FREE_TRIES), MAX_WAIT_S)
        return max(0.0, last + delay - self._clock())

    def _fail_locked(self, client: str) -> None:
        failures, _ = self._failures.pop(client, (0, 0.0))
        self._failures[client] = (failures + 1, self._clock())
        while len(self._failures) > MAX_CLIENTS:
            self._failures.popitem(last=False)
