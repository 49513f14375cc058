"""Test-wide guards: no test may reach the network, and none may download data."""

from __future__ import annotations

import atexit
import ipaddress
import os
import shutil
import socket
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # shared test helpers: factories.py, app_driver.py

# Tests use embedded or synthetic data only; subprocesses inherit this too.
os.environ["EXPLORER_OFFLINE"] = "1"
# Keras reads KERAS_HOME when it is first imported, and the datasets look in its cache: an empty
# folder of the tests' own, so a user's ~/.keras/datasets/mnist.npz never changes what a test loads.
_KERAS_HOME = tempfile.mkdtemp(prefix="explorer-tests-keras-home-")
os.environ["KERAS_HOME"] = _KERAS_HOME
atexit.register(shutil.rmtree, _KERAS_HOME, ignore_errors=True)
# Drawn test sets are cached on disk (core.drawn_cache): in a folder of the tests' own, shared by
# the session and its subprocesses, never the user's. pytest-xdist's workers inherit the controller's
# environment, so they share its folder (writes are atomic) and mostly derive each drawn set once.
_SHARED_CACHE = "EXPLORER_TESTS_CACHE_DIR"
_CACHE_DIR = os.environ.get(_SHARED_CACHE) or ""
if not _CACHE_DIR:  # this process makes the folder, and removes it at the end
    _CACHE_DIR = os.environ[_SHARED_CACHE] = tempfile.mkdtemp(prefix="explorer-tests-cache-")
    atexit.register(shutil.rmtree, _CACHE_DIR, ignore_errors=True)
os.environ["EXPLORER_CACHE_DIR"] = _CACHE_DIR
# A test that opens the app without a runs folder of its own writes here, never into ./runs, which
# two workers would share (and a user may keep real runs in).
_RUNS_DIR = tempfile.mkdtemp(prefix="explorer-tests-runs-")
os.environ["EXPLORER_RUNS_DIR"] = _RUNS_DIR
atexit.register(shutil.rmtree, _RUNS_DIR, ignore_errors=True)


class NetworkBlocked(OSError):
    """Raised instead of opening a connection that would leave this machine."""


_attempts: list[str] = []


def _is_loopback(host: object) -> bool:
    if not isinstance(host, str):
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _guard(address: object) -> None:
    if isinstance(address, tuple) and address and not _is_loopback(address[0]):
        _attempts.append(repr(address))
        raise NetworkBlocked(f"tests may not reach the network (tried {address!r})")


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _connect(self: socket.socket, address: object) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _guard(address)
    return _real_connect(self, address)


def _connect_ex(self: socket.socket, address: object) -> int:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _guard(address)
    return _real_connect_ex(self, address)


def _getaddrinfo(host: object, *args: object, **kwargs: object) -> list:
    # Name lookups leave the machine too (DNS), unless they are for loopback.
    if host is not None:
        _guard((host.decode() if isinstance(host, bytes) else host,))
    return _real_getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _connect
socket.socket.connect_ex = _connect_ex
socket.getaddrinfo = _getaddrinfo


@pytest.fixture
def network_attempts() -> Callable[[], list[str]]:
    """For a test of offline behaviour: a function listing the blocked attempts so far (then forgiven)."""
    start = len(_attempts)
    yield lambda: _attempts[start:]
    del _attempts[start:]


@pytest.fixture(autouse=True)
def fail_on_network_use(request: pytest.FixtureRequest) -> None:
    """Any test that tried to open a non-loopback connection fails, even if the code caught the error."""
    start = len(_attempts)
    yield
    if "network_attempts" in request.fixturenames:
        return
    tried = _attempts[start:]
    del _attempts[start:]
    if tried:
        pytest.fail(f"test tried to reach the network: {', '.join(tried)}")
