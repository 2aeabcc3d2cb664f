"""Run an `isg` command and tell when each phase of its parent process began and ended.

    python benchmarks/phases.py site build --at 2026-11-27T12:00:00Z --out /tmp/site

A profile attributes a wait to whatever waits; this tells which step the command is in at
each moment (the tenth session found that way a 4.7 s wait on git's history that profiles
had spread over lock acquisitions). The phases are the library functions the command
calls, wrapped here before the command runs; workers forked by the command report
nothing. Times are seconds since this script started, on stderr:

    [phase] load_registry                 0.31 ->   1.93
"""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Callable
from typing import Any

STARTED = time.perf_counter()
PARENT = os.getpid()

# (module, attribute path) of each phase, in the order a site build reaches them: where the
# command finds it when it runs (isg.cli.site imports most of them inside its functions).
PHASES = (
    ("isg.render.page_memo", "PageMemo.open"),
    ("isg.render.rebuild", "rebuild"),
    ("isg.render.rebuild", "_changes"),
    ("isg.render.rebuild", "site_intact"),
    ("isg.render.rebuild", "load_registry"),
    ("isg.render.rebuild", "_only_free_text"),
    ("isg.render.rebuild", "_site_data"),
    ("isg.render.rebuild", "evaluate_remembered"),
    ("isg.render.rebuild", "_write"),
    ("isg.render.rebuild", "pages_showing"),
    ("isg.render.rebuild", "_render_all"),
    ("isg.render.rebuild", "remember"),
    ("isg.sla.memory", "remembered_reopened"),
    ("isg.cli.site", "load_registry"),
    ("isg.sla.memory", "KeptReports.open"),
    ("isg.render.builder", "gather"),
    ("isg.render.builder", "publishable"),
    ("isg.render.builder", "EarlyFiles.start"),
    ("isg.sla.memory", "evaluate_remembered"),
    ("isg.render.builder", "ReportBasis.of"),
    ("isg.render.builder", "_each"),
    ("isg.render.builder", "build_site"),
    ("isg.render.builder", "status_pages"),
    ("isg.render.builder", "_render_all"),
    ("isg.cli.sla", "status_json_lines"),
    ("isg.validation", "validate_registry"),
)


def timed(name: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        began = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            if os.getpid() == PARENT:
                ended = time.perf_counter()
                print(
                    f"[phase] {name:28s} {began - STARTED:6.2f} -> {ended - STARTED:6.2f}",
                    file=sys.stderr,
                )

    return wrapper


def wrap_phases() -> list[str]:
    """Wrap every phase that exists in this version of isg; the names wrapped."""
    import importlib

    wrapped = []
    for module_name, path in PHASES:
        try:
            owner: Any = importlib.import_module(module_name)
        except ImportError:
            continue
        *parents, name = path.split(".")
        for parent in parents:
            owner = getattr(owner, parent, None)
        function = getattr(owner, name, None) if owner is not None else None
        if function is None:
            continue
        if isinstance(owner, type) and isinstance(owner.__dict__.get(name), classmethod):
            setattr(owner, name, classmethod(timed(path, function.__func__)))
        else:
            setattr(owner, name, timed(path, function))
        wrapped.append(path)
    return wrapped


def main() -> None:
    wrap_phases()
    import isg.cli

    leave = isg.cli.leave  # how `isg` ends (os._exit, after flushing): told just before

    def leaving(code: object) -> None:
        print(f"[phase] {'end':28s} {time.perf_counter() - STARTED:6.2f}", file=sys.stderr)
        leave(code)

    isg.cli.leave = leaving  # type: ignore[assignment]
    sys.argv = ["isg", *sys.argv[1:]]
    isg.cli.main()


if __name__ == "__main__":
    main()
