"""Every command documents itself with an example; `python -m isg` works."""

from __future__ import annotations

import subprocess
import sys

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


def test_readme_documents_every_command() -> None:
    from conftest import REPO_ROOT

    readme = (REPO_ROOT / "README.md").read_text()
    for command in COMMANDS:
        assert f"isg {command}" in readme
