"""The console commands of pyproject's ``[project.scripts]`` resolve and answer ``--help``, and every
package of the checkout is one setuptools installs."""

from __future__ import annotations

import importlib
import sys

import pytest
from helpers import REPO

tomllib = pytest.importorskip("tomllib") if sys.version_info >= (3, 11) else pytest.importorskip("tomli")
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
SCRIPTS = PYPROJECT["project"]["scripts"]


def _target(spec: str):
    module, _, attr = spec.partition(":")
    return getattr(importlib.import_module(module), attr)


def test_the_two_commands_are_declared():
    assert SCRIPTS == {"mnist-hf": "mnist_hf.__main__:main", "compare-splits": "mnist_compare.cli:main"}


@pytest.mark.parametrize("name", sorted(SCRIPTS))
def test_each_command_resolves_and_answers_help(name, capsys):
    main = _target(SCRIPTS[name])
    assert callable(main)
    with pytest.raises(SystemExit) as stop:
        main(["--help"])
    assert stop.value.code == 0
    assert "usage:" in capsys.readouterr().out


def test_compare_splits_names_itself_and_the_script_its_file(tmp_path, capsys):
    from mnist_compare.cli import main

    with pytest.raises(SystemExit):
        main(["--shift", "smear:1"])
    assert capsys.readouterr().err.splitlines()[-1].startswith("compare-splits: error: --shift: ")


def test_every_package_is_installed():
    # pip install . installs only the listed packages: a subpackage left out is missing on a user's machine
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    tops = [p.parent for p in REPO.glob("*/__init__.py") if p.parent.name != "tests"]
    there = {p.parent.relative_to(REPO).as_posix().replace("/", ".") for top in tops for p in top.rglob("__init__.py")}
    assert listed == there
