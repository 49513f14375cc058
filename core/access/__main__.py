"""`python -m core.access check --host HOST`: exit 0 if the app may be served on HOST, else say what to set.

`make run` and `make serve` call it before starting Streamlit, so a server reachable from other
machines never starts without a login.
"""

from __future__ import annotations

import sys

from core.access.settings import AccessSettings
from core.cli import OneLineParser


def main(argv: list[str] | None = None) -> int:
    parser = OneLineParser(prog="python -m core.access", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    check = commands.add_parser("check", help="refuse a non-local address without access control")
    check.add_argument("--host", required=True, help="the address Streamlit will bind to")
    args = parser.parse_args(argv)
    try:
        settings = AccessSettings.load()
        problem = settings.serving_problem() if settings.is_serving(args.host) else None
    except (ValueError, OSError) as error:  # a malformed secrets.toml or EXPLORER_MAX_QUEUE
        problem = f"The access settings cannot be read: {error}"
    if problem:
        print(f"Not serving on {args.host}: {problem}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
