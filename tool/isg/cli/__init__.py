"""The `isg` command line: thin commands over the library.

Commands read the clock and the environment and decide exit codes (0 clean, 1 findings or
late, 2 usage or unreadable registry); everything else is in the library. Each command's
module is imported only when the command runs (see `common.COMMAND_MODULES`).
"""

from __future__ import annotations

import contextlib
import gc
import os
import sys
from typing import NoReturn

from isg.cli.common import cli

__all__ = ["cli", "main"]


def main() -> NoReturn:
    # A run builds hundreds of thousands of small containers that live until it ends (records,
    # summaries, the cache) and makes almost no cycles; the default collector re-scans them
    # over and over (reading the cache at 10,000 records: 0.54 s with it, 0.10 s without).
    # Collect rarely instead of never, so a cycle-heavy path still has a bound.
    gc.set_threshold(500_000, 50, 100)
    try:
        cli(prog_name="isg")
        code: object = 0
    except SystemExit as stop:  # click ends every run this way
        code = stop.code
    leave(code)


def leave(code: object) -> NoReturn:
    """End the process with `code` (as `SystemExit` takes it) once the output is flushed,
    without Python's shutdown: that frees every object one by one and collects once more,
    0.13 s after a site rebuild at 50,000 incidents (8 % of it) for memory the system
    takes back whole. Nothing is left for the shutdown to do: every command closes its
    stores and files and joins its threads and workers (isg registers no atexit hook)."""
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # a message, as Python shows it
        print(code, file=sys.stderr)
        status = 1
    try:
        sys.stdout.flush()
    except OSError:  # a reader that went away: what Python's own shutdown answers then
        status = status or 120
    with contextlib.suppress(OSError):
        sys.stderr.flush()
    os._exit(status)
