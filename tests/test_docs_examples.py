"""The Python examples of the docs run: every ```python block of README.md and docs/ (the user guide,
the front page, architecture) is executed, page by page in one namespace, in a fresh folder.

A block that cannot run here (it downloads, needs the real files, or shows a call with your own data)
says so on the line before its fence: ``<!-- not run: REASON -->``."""

from __future__ import annotations

import os
import re

import pytest
from helpers import REPO

FENCE = re.compile(r"^```python\n(?P<code>.*?)^```", re.S | re.M)
NOT_RUN = re.compile(r"<!-- not run: (?P<reason>[^>]*\S) -->\s*$")
PAGES = sorted([REPO / "README.md", REPO / "docs" / "index.md", REPO / "docs" / "architecture.md",
                *(REPO / "docs" / "guide").glob("*.md")])


def blocks(path):
    """``(code, reason_not_run or None)`` for each Python block of the page at ``path``."""
    text = path.read_text(encoding="utf-8")
    out = []
    for m in FENCE.finditer(text):
        before = text[: m.start()].rstrip("\n").rpartition("\n")[2]
        skip = NOT_RUN.search(before)
        out.append((m["code"], skip["reason"] if skip else None))
    return out


def test_the_examples_are_found_and_most_skips_say_why():
    found = {p.relative_to(REPO).as_posix(): blocks(p) for p in PAGES}
    run = [c for bs in found.values() for c, reason in bs if reason is None]
    assert len(run) >= 4, found  # the guide's runnable examples are there
    for page, bs in found.items():
        for code, reason in bs:
            assert reason is None or len(reason) > 5, (page, code)


@pytest.mark.parametrize("page", [p for p in PAGES if any(r is None for _, r in blocks(p))],
                         ids=lambda p: p.relative_to(REPO).as_posix())
def test_page_examples_run(page, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf"))
    namespace = {"__name__": f"docs_{page.stem}"}
    for i, (code, reason) in enumerate(blocks(page)):
        if reason is None:
            exec(compile(code, f"{page.name} [python block {i + 1}]", "exec"), namespace)
    assert os.getcwd() == str(tmp_path)
