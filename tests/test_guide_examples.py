"""The user guide's examples run: every ```python block of a page, in order, in one namespace
(a later block may use what an earlier one made), in a fresh folder."""

from __future__ import annotations

import re

import pytest
from helpers import REPO

PAGES = ["own_predictions.md", "reports.md"]
BLOCK = re.compile(r"^```python\n(.*?)^```$", re.S | re.M)


def blocks(page: str) -> list[str]:
    return BLOCK.findall((REPO / "docs" / "guide" / page).read_text(encoding="utf-8"))


@pytest.mark.parametrize("page", PAGES)
def test_every_python_block_of_the_page_runs(page, tmp_path, monkeypatch):
    code = blocks(page)
    assert code, f"{page} has no python blocks"
    if any(re.search(r"^import torch", c, re.M) for c in code):
        pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": f"guide_{page}"}
    for i, block in enumerate(code):
        exec(compile(block, f"docs/guide/{page}, block {i + 1}", "exec"), namespace)


def test_the_torch_example_gets_an_estimate_with_a_basis(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    torch_block = next(c for c in blocks("own_predictions.md") if "TorchBatches" in c)
    exec(compile(torch_block, "own_predictions.md", "exec"), namespace)
    row = namespace["splitters"].estimation.model_estimates(namespace["est"].table, "own").loc["torch_mlp"]
    assert row.reliable and row.lo <= row.test_score <= row.hi
