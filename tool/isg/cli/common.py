"""The click group and what every command shares: the registry root, times, errors."""

from __future__ import annotations

import importlib
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from isg import __version__
from isg.errors import IsgError
from isg.layout import find_root

if TYPE_CHECKING:  # isg.records imports YAML: `isg site build` starts git before (cli/site.py)
    from isg.records import Registry

F = TypeVar("F", bound=Callable[..., Any])


def library_errors(func: F) -> F:
    """Turn a library error into a one-line message and exit code 2, never a traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except IsgError as exc:
            click.echo(f"isg: {exc}", err=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


def registry_root(repo: Path | None) -> Path:
    return find_root(repo.resolve() if repo else Path.cwd())


def parse_at(value: str | None) -> datetime:
    if value is None:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"'{value}' is not an ISO 8601 time") from None
    if parsed.tzinfo is None:
        raise click.BadParameter(f"'{value}' needs a UTC offset, e.g. {value}+00:00")
    return parsed


repo_option = click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    help="Registry folder (default: the nearest folder above here with records/ and schemas/).",
)


# Where each command is defined. Commands are imported when used, not all at start-up: a
# warm `isg validate` must answer in well under a second, and importing every command's
# libraries (git, jinja2, markdown, smtplib, ...) alone took 0.7 s.
COMMAND_MODULES = {
    "approvals": "isg.cli.approvals",
    "codeowners": "isg.cli.registry",
    "fees": "isg.cli.reports",
    "fmt": "isg.cli.registry",
    "intake": "isg.cli.registry",
    "new": "isg.cli.registry",
    "notify": "isg.cli.notify",
    "priority": "isg.cli.sla",
    "privacy-scan": "isg.cli.registry",
    "release": "isg.cli.reports",
    "report": "isg.cli.reports",
    "site": "isg.cli.site",
    "sla": "isg.cli.sla",
    "validate": "isg.cli.registry",
}


class LazyGroup(click.Group):
    """A group whose commands are imported from `COMMAND_MODULES` when first asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMAND_MODULES) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMAND_MODULES:
            importlib.import_module(COMMAND_MODULES[cmd_name])
        return self.commands.get(cmd_name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="isg")
def cli() -> None:
    """iSupport Governance: the maintenance registry of iSupport, kept in git.

    \b
    Example:
      isg validate                  check every record
      isg new incident              start a new incident record
    """


def load_registry(root: Path) -> Registry:
    """The records of the registry at `root` for reading (cached; see isg.record_cache)."""
    from isg.record_cache import load_registry as load
    from isg.schemas import load_schemas

    return load(root, load_schemas(root), use_cache=caching())


def caching() -> bool:
    """Whether commands may use `.isg/cache/` (`ISG_NO_CACHE=1` says not)."""
    return os.environ.get("ISG_NO_CACHE") != "1"


class Progress:
    """`label: done/total (percent)` on one line of a terminal, redrawn at most ten times a
    second; nothing at all when stderr is not a terminal (CI logs, pipes) or the work is
    small. Call it as `progress(done, total)`; `finish()` ends the line."""

    def __init__(self, label: str, *, stream: Any = None, minimum: int = 1000) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.minimum = minimum
        self.shown = 0.0
        self.drawn = False

    def __call__(self, done: int, total: int) -> None:
        if total < self.minimum or not self.stream.isatty():
            return
        now = time.monotonic()
        if done < total and now - self.shown < 0.1:
            return
        self.shown = now
        self.stream.write(f"\r{self.label}: {done}/{total} ({done * 100 // total} %)")
        self.stream.flush()
        self.drawn = True

    def finish(self) -> None:
        if self.drawn:
            self.stream.write("\n")
            self.stream.flush()
