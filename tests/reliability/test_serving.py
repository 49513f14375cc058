"""Nothing listens beyond this machine by default, other sites cannot drive the app, and `make serve` needs a login."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from app_server import free_port, wait_until_healthy
from skips import skip_unless_ci
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

ROOT = Path(__file__).resolve().parents[2]
LISTEN = "0A"
REFUSED = (400, 403)
ACCESS_VARIABLES = ("EXPLORER_PASSWORD", "EXPLORER_ADMIN_PASSWORD", "EXPLORER_ALLOWED_EMAILS", "EXPLORER_DATA_DIR")


def _address(hex_address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An address as /proc/net/tcp* prints it: 32-bit words in the machine's byte order."""
    raw = bytes.fromhex(hex_address)
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    return ipaddress.ip_address(words)


def listening_addresses(port: int) -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    """Every local address with a socket listening on `port`, read from the kernel's tables."""
    found = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, hex_port = fields[1].split(":")
            if fields[3] == LISTEN and int(hex_port, 16) == port:
                found.add(_address(address))
    return found


@pytest.fixture
def clean_environment(tmp_path) -> dict[str, str]:
    """This machine's environment without any login, and a HOME without the user's own secrets.toml."""
    if (ROOT / ".streamlit" / "secrets.toml").exists():
        skip_unless_ci("this checkout has a .streamlit/secrets.toml, which may set a login", "CI clones have none.")
    environment = {key: value for key, value in os.environ.items() if key not in ACCESS_VARIABLES}
    return {**environment, "HOME": str(tmp_path), "EXPLORER_RUNS_DIR": str(tmp_path / "runs")}


@contextlib.contextmanager
def started(command: list[str], environment: dict[str, str], port: int) -> Iterator[subprocess.Popen]:
    """Run `command` (which starts the app on `port`) until it answers; stop it and all it started afterwards."""
    server = subprocess.Popen(
        command, cwd=ROOT, env=environment, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        # Healthy means every socket is bound: Streamlit binds them all before it serves.
        wait_until_healthy(f"http://127.0.0.1:{port}", server)
        yield server
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)


def test_the_table_reader_reads_a_socket_it_opened():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        probe.listen()
        assert listening_addresses(probe.getsockname()[1]) == {ipaddress.ip_address("127.0.0.1")}


@pytest.mark.parametrize(
    "how",
    [
        pytest.param(["make", "--no-print-directory", "run"], id="make run"),
        # Started by hand, without naming an address: .streamlit/config.toml alone keeps it local.
        pytest.param([sys.executable, "-m", "streamlit", "run", "app.py"], id="streamlit run"),
    ],
)
def test_the_app_listens_on_loopback_only(clean_environment, how):
    port = free_port()
    command = [*how, f"PORT={port}"] if how[0] == "make" else [*how, "--server.port", str(port)]
    with started(command, clean_environment, port):
        addresses = listening_addresses(port)
    assert addresses and all(address.is_loopback for address in addresses), addresses


def websocket_answer(port: int, host: str, origin: str) -> int:
    """The HTTP status the app's WebSocket answers a browser's handshake with (101 = accepted).

    The socket goes to 127.0.0.1 whatever `host` the request names, as it would after DNS rebinding.
    """
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        with connect(f"ws://{host}:{port}/_stcore/stream", sock=sock, origin=origin, open_timeout=10):
            return 101
    except InvalidStatus as refusal:
        return refusal.response.status_code
    finally:
        sock.close()


def test_pages_of_other_sites_and_other_host_names_cannot_drive_the_app(clean_environment):
    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port)]
    with started(command, clean_environment, port):
        for own in ("127.0.0.1", "localhost"):
            assert websocket_answer(port, own, f"http://{own}:{port}") == 101, f"the app's own page at {own}"
        # A page on another site, in the same browser, opening the app's socket:
        assert websocket_answer(port, "127.0.0.1", "http://evil.example") in REFUSED
        # DNS rebinding: another site's name, made to point at this machine (same origin, so only its name tells):
        assert websocket_answer(port, "evil.example", f"http://evil.example:{port}") in REFUSED


def test_make_serve_refuses_to_start_without_a_login_and_says_what_to_set(clean_environment):
    port = free_port()
    refused = subprocess.run(
        ["make", "--no-print-directory", "serve", f"PORT={port}"],
        cwd=ROOT,
        env=clean_environment,
        capture_output=True,
        text=True,
        timeout=120,
        start_new_session=True,
    )
    assert refused.returncode != 0
    assert "EXPLORER_PASSWORD" in refused.stderr and "Serving a class" in refused.stderr
    assert not listening_addresses(port)


@pytest.mark.parametrize(
    ("settings", "allowed"),
    [
        ({}, False),
        ({"EXPLORER_PASSWORD": "short"}, False),
        ({"EXPLORER_PASSWORD": "long-enough-secret"}, True),
        ({"EXPLORER_PASSWORD": "long-enough-secret", "EXPLORER_DATA_DIR": "/etc"}, False),
    ],
)
def test_the_check_make_serve_runs_first_lets_through_only_a_safe_login(clean_environment, settings, allowed):
    check = subprocess.run(
        [sys.executable, "-m", "core.access", "check", "--host", "0.0.0.0"],
        cwd=ROOT,
        env={**clean_environment, **settings},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (check.returncode == 0) is allowed, check.stderr
    assert allowed or check.stderr.startswith("Not serving on 0.0.0.0: ")
    local = subprocess.run(
        [sys.executable, "-m", "core.access", "check", "--host", "127.0.0.1"],
        cwd=ROOT,
        env=clean_environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert local.returncode == 0, "on this machine alone no login is needed"
