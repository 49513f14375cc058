"""`make run` listens on this machine only; `make serve` will not start without a login."""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import subprocess
from pathlib import Path

import pytest
from app_server import free_port, wait_until_healthy

ROOT = Path(__file__).resolve().parents[2]
LISTEN = "0A"
ACCESS_VARIABLES = ("EXPLORER_PASSWORD", "EXPLORER_ADMIN_PASSWORD", "EXPLORER_ALLOWED_EMAILS")


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
            local, state = line.split()[1], line.split()[3]
            address, hex_port = local.split(":")
            if state == LISTEN and int(hex_port, 16) == port:
                found.add(_address(address))
    return found


def environment_without_login() -> dict[str, str]:
    return {key: value for key, value in os.environ.items() if key not in ACCESS_VARIABLES}


def test_the_table_reader_reads_a_socket_it_opened():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        probe.listen()
        assert listening_addresses(probe.getsockname()[1]) == {ipaddress.ip_address("127.0.0.1")}


def test_make_run_listens_on_loopback_only(tmp_path):
    port = free_port()
    server = subprocess.Popen(
        ["make", "--no-print-directory", "run", f"PORT={port}"], cwd=ROOT, start_new_session=True,
        env={**environment_without_login(), "EXPLORER_RUNS_DIR": str(tmp_path / "runs")},
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        # Healthy means every socket is bound: Streamlit binds them all before it serves.
        wait_until_healthy(f"http://127.0.0.1:{port}", server)
        addresses = listening_addresses(port)
        assert addresses and all(address.is_loopback for address in addresses), addresses
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(30)


def test_make_serve_refuses_to_start_without_a_login_and_says_what_to_set():
    port = free_port()
    refused = subprocess.run(
        ["make", "--no-print-directory", "serve", f"PORT={port}"], cwd=ROOT, env=environment_without_login(),
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert refused.returncode != 0
    assert "EXPLORER_PASSWORD" in refused.stderr and "Serving a class" in refused.stderr
    assert not listening_addresses(port)


@pytest.mark.parametrize("password", ["short", ""])
def test_make_serve_refuses_a_password_too_short_to_be_safe(password):
    refused = subprocess.run(
        ["make", "--no-print-directory", "serve", f"PORT={free_port()}"], cwd=ROOT, capture_output=True, text=True,
        env={**environment_without_login(), "EXPLORER_PASSWORD": password}, timeout=120,
    )  # fmt: skip
    assert refused.returncode != 0 and "Not serving on 0.0.0.0" in refused.stderr
