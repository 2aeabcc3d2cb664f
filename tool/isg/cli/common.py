"""The click group and what every command shares: the registry root, times, errors."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from isg import __version__
from isg.errors import IsgError
from isg.records import find_root

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


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="isg")
def cli() -> None:
    """iSupport Governance: the maintenance registry of iSupport, kept in git.

    \b
    Example:
      isg validate                  check every record
      isg new incident              start a new incident record
    """
