"""The one exception type the project raises for bad input, and how an entry point prints it as one line."""

from __future__ import annotations

import sys
from collections.abc import Callable


class SSLPropError(Exception):
    """Bad input, reported to the user as a single line naming the file and the problem.

    Raise it with a message of the form ``"<path>: <what is wrong>"`` wherever input from
    outside (a media file, a manifest row, an annotation file, a command-line value) does
    not fit. `sslprop.cli.main` prints ``error: <message>`` and exits with status 2.
    """


def one_line_errors(fn: Callable[[], str]) -> int:
    """Run `fn` for a `python -m` entry point outside the subcommands: print what it returns, or its
    `SSLPropError` as one line ``error: ...`` with exit status 2."""
    try:
        print(fn())
    except SSLPropError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0
