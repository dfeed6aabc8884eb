"""docs/architecture.md's Layout section is the code's layout: every module of splitters/, mnist_compare/
and scripts/ listed, and nothing listed that is not there."""

from __future__ import annotations

import re

from helpers import REPO

CHECKED = ("splitters", "scripts", "mnist_compare")  # the rooms whose layout this test keeps; mnist_hf's and tests' are prose


def _layout_entries() -> set[str]:
    """The paths the Layout block of docs/architecture.md names: ``splitters/comparison/engine.py``, ..."""
    text = (REPO / "docs" / "architecture.md").read_text(encoding="utf-8")
    block = text.split("\n## Layout\n", 1)[1].split("```\n", 2)[1]
    entries, stack = set(), []
    for line in block.splitlines():
        if not line.strip():
            continue
        indent = (len(line) - len(line.lstrip())) // 2
        names = re.split(r"\s{2,}", line.strip())[0]
        if names.startswith(("`", "(")) or (indent and not stack):
            continue  # a description carried over to the next line
        stack = stack[:indent]
        for name in names.split(", "):
            entries.add("/".join([*stack, name.rstrip("/")]))
        if names.endswith("/"):
            stack.append(names.rstrip("/"))
    return entries


def test_layout_lists_every_module_and_folder_that_is_there():
    listed = {e for e in _layout_entries() if e.split("/")[0] in CHECKED}
    there = set()
    for room in CHECKED:
        for path in (REPO / room).rglob("*"):
            if "__pycache__" in path.parts or path.name.startswith("."):
                continue
            if path.name == "__init__.py" and path.parent != REPO / room:
                continue  # a subpackage's __init__ goes with its folder
            if path.is_dir() or path.suffix in (".py", ".sh"):
                there.add(path.relative_to(REPO).as_posix())
    there |= set(CHECKED)
    assert listed == there, {"listed, not there": sorted(listed - there), "there, not listed": sorted(there - listed)}
