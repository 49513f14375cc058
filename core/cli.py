"""The argument parser every `python -m core.*` command uses: a bad argument is one line, not a usage dump."""

from __future__ import annotations

import argparse


class OneLineParser(argparse.ArgumentParser):
    """Bad arguments give one line saying what is wrong and pointing at --help, then exit code 2."""

    def error(self, message: str) -> None:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")
