"""Every command documents itself with an example; `python -m isg` works."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from conftest import RunCli
from isg.cli import cli


def _command_paths(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    paths = []
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None, f"{name} is listed but cannot be loaded"
        paths.append((*prefix, name))
        if isinstance(command, click.Group):
            paths.extend(_command_paths(command, (*prefix, name)))
    return paths


COMMANDS = [" ".join(path) for path in _command_paths(cli)]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(run_cli: RunCli, command: str) -> None:
    result = run_cli(*command.split(), "--help")
    assert result.exit_code == 0
    assert "Example:" in result.output
    assert f"isg {command}" in result.output


def test_commands_load_lazily_and_all_are_mapped() -> None:
    import importlib
    import pkgutil

    import isg.cli
    from isg.cli.common import COMMAND_MODULES

    assert len(COMMANDS) > 20
    for module in pkgutil.iter_modules(isg.cli.__path__):
        importlib.import_module(f"isg.cli.{module.name}")
    assert set(cli.commands) == set(COMMAND_MODULES)  # nothing defined but unmapped
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, isg.cli, isg.cli.registry;"
            " print(sorted({'git', 'jsonschema', 'holidays', 'jinja2'} & set(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    # `isg validate` imports none of these unless a record needs them (a warm run: never)
    assert done.stdout.strip() == "[]"


def test_group_help_has_an_example(run_cli: RunCli) -> None:
    assert "Example:" in run_cli("--help").output


def test_python_dash_m_runs_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "isg", "--version"], capture_output=True, text=True, check=True
    )
    assert done.stdout == "isg, version 0.1.0\n"


def test_exit_codes_and_output_survive_leaving_without_python_shutdown(tmp_path: Path) -> None:
    """`isg.cli.main` ends the process with os._exit (no shutdown): what was printed is
    flushed first, and the exit code is what click asked for."""
    usage = subprocess.run(
        [sys.executable, "-m", "isg", "no-such-command"], capture_output=True, text=True
    )
    assert usage.returncode == 2
    assert "No such command 'no-such-command'" in usage.stderr
    # Output to a file is block-buffered: all of it there, none lost with the shutdown.
    listing = tmp_path / "help.txt"
    with listing.open("w") as handle:
        done = subprocess.run([sys.executable, "-m", "isg", "--help"], stdout=handle)
    assert done.returncode == 0
    assert listing.read_text().startswith("Usage: isg [OPTIONS] COMMAND [ARGS]...")


@pytest.mark.parametrize(
    ("code", "status", "stderr"),
    [(None, 0, ""), (3, 3, ""), ("a message", 1, "a message\n")],
)
def test_leave_exits_as_system_exit_would(code: object, status: int, stderr: str) -> None:
    done = subprocess.run(
        [sys.executable, "-c", f"import isg.cli; print('out'); isg.cli.leave({code!r})"],
        capture_output=True,
        text=True,
    )
    assert (done.returncode, done.stdout, done.stderr) == (status, "out\n", stderr)


def test_leave_answers_120_when_nobody_reads_the_output() -> None:
    """As Python's own shutdown does when flushing stdout fails (the reader went away)."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        done = subprocess.run(
            [sys.executable, "-c", "import isg.cli; print('lost'); isg.cli.leave(0)"],
            stdout=writer,
            stderr=subprocess.DEVNULL,
            # Buffered, as by default: the print is kept until `leave` flushes it.
            env={k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"},
        )
    finally:
        os.close(writer)
    assert done.returncode == 120


def test_readme_documents_every_command() -> None:
    from conftest import REPO_ROOT

    readme = (REPO_ROOT / "README.md").read_text()
    for command in COMMANDS:
        assert f"isg {command}" in readme
