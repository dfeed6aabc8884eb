"""README's and the docs' comparison figures are exactly what docs/results renders to
(scripts/maintenance/update_results.py): one `make results` run behind both."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from helpers import REPO, load_script

RESULTS = REPO / "docs" / "results"


def _load(name: str):
    # Registered under its name, so results_spread's `from update_results import ...` gets this module.
    return load_script(name, register=True)


update_results = _load("maintenance/update_results")


@pytest.mark.parametrize("page", sorted(update_results.PAGES))
def test_readme_and_docs_tables_equal_docs_results(page):
    shown = update_results.read_blocks((REPO / page).read_text(encoding="utf-8"))
    rendered = update_results.page_blocks(RESULTS, update_results.PAGES[page])
    assert set(shown) == set(rendered), f"{page}'s result markers and the rendered blocks differ"
    for name, body in rendered.items():
        assert shown[name] == body, (f"{page} block {name!r} is not what docs/results gives: run "
                                     "`make results` (or scripts/maintenance/update_results.py --render-only)")


def test_the_pages_show_every_block_and_readme_the_headline():
    rendered = update_results.render_blocks(RESULTS)
    assert {"no_shift:summary", "rotate30:summary", "rotate30:estimates", "machine"} <= set(rendered)
    assert update_results.PAGES["README.md"] == ("rotate30:estimates",)
    assert None in update_results.PAGES.values()  # one page (the comparison guide) shows them all


def test_rendered_summary_is_the_reports_table_with_spread():
    # The README table is the first table of the report the comparison wrote itself.
    table = update_results.render_blocks(RESULTS)["rotate30:summary"]
    report = (RESULTS / "rotate30" / "report.md").read_text(encoding="utf-8")
    assert table == update_results.markdown_tables(report)[0]
    assert " ± " in table  # each rank correlation and gap with its spread over repeats
    assert "**(recommended)**" in table


def test_a_hand_edited_number_is_caught(tmp_path):
    text = (REPO / "README.md").read_text(encoding="utf-8")
    body = update_results.read_blocks(text)["rotate30:estimates"]
    number = re.search(r"\d+\.\d", body).group()
    edited = text.replace(body, body.replace(number, "99.9", 1), 1)
    headline = update_results.page_blocks(RESULTS, update_results.README_BLOCKS)
    assert update_results.read_blocks(edited) != headline
    readme = tmp_path / "README.md"
    readme.write_text(edited, encoding="utf-8")
    assert update_results.update_readme(readme, RESULTS) is True  # restored from docs/results
    assert update_results.read_blocks(readme.read_text(encoding="utf-8")) == headline


def test_results_regenerated_without_readme_are_caught(tmp_path):
    results = tmp_path / "results"
    shutil.copytree(RESULTS, results)
    path = results / "rotate30" / "results.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["summary"][0]["mae"] += 0.01
    path.write_text(json.dumps(doc), encoding="utf-8")
    guide = update_results.read_blocks((REPO / "docs" / "guide" / "comparison.md").read_text(encoding="utf-8"))
    assert guide["rotate30:summary"] != update_results.render_blocks(results)["rotate30:summary"]


def test_missing_or_unknown_markers_are_an_error():
    with pytest.raises(ValueError, match=r"missing \['machine'\]"):
        update_results.replace_blocks("no markers here", {"machine": "x"})
    with pytest.raises(ValueError, match=r"not rendered \['old'\]"):
        update_results.replace_blocks("<!-- results:old -->\n1\n<!-- /results -->", {})


def test_reading_results_names_a_bad_file(tmp_path):
    from splitters import ComparisonResult

    bad = tmp_path / "results.json"
    bad.write_text("{}", encoding="utf-8")
    with pytest.raises(ValueError, match=r"results\.json: not a comparison's results\.json"):
        ComparisonResult.read(bad)
    with pytest.raises(ValueError, match=r"missing\.json: not a comparison's results\.json \(FileNotFoundError"):
        ComparisonResult.read(tmp_path / "missing.json")


def test_a_result_reads_back_what_it_wrote(tmp_path):
    from splitters import ComparisonResult

    saved = ComparisonResult.read(REPO / "docs" / "results" / "rotate30" / "results.json")
    saved.to_json(tmp_path / "again.json")
    again = ComparisonResult.read(tmp_path / "again.json")
    assert again.to_json() == saved.to_json() and again.to_markdown() == saved.to_markdown()


def test_spread_counts_changed_fits_and_summary_moves():
    spread = _load("maintenance/results_spread")
    row = {"strategy": "s", "repeat": 0, "model": "m", "val_score": 0.5, "test_score": 0.4}
    rows = [row, {**row, "model": "k"}]
    summary = [{"strategy": "s", "mae": 0.1, "bias": 0.1, "spearman": 1.0, "kendall": 1.0, "regret": 0.0}]
    ref = {"table": rows, "summary": summary, "recommended": "s"}
    same = spread.compare_runs(ref, ref)
    assert same["fits_changed"] == 0 and same["score_max_abs_diff"] == 0 and same["summary_max_abs_diff"] == {}
    moved = {"table": [rows[0], {**rows[1], "val_score": 0.49}],
             "summary": [{**summary[0], "spearman": 0.9}], "recommended": "s"}
    d = spread.compare_runs(ref, moved)
    assert d["fits_changed"] == 1 and d["changed_by_model"] == {"k": 1}
    assert d["score_max_abs_diff"] == pytest.approx(0.01)
    assert d["summary_max_abs_diff"] == {"spearman": pytest.approx(0.1)}


def test_docstring_examples_run():
    import doctest

    for module in (update_results, _load("maintenance/results_spread")):
        runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
        for test in doctest.DocTestFinder().find(module):
            runner.run(test)
        assert runner.tries and not runner.failures, module.__name__
