"""Adding a diagnostic or an estimator is one entry in one table (docs/architecture.md): a toy of
each, registered there and nowhere else, flows through everything compare_strategies returns."""

from __future__ import annotations

import json

import numpy as np
import pytest

import splitters
from splitters.comparison.diagnostics import DIAGNOSTICS, Diagnostic
from splitters.estimation import ESTIMATORS, Estimator


def _data(seed=0):
    rng = np.random.default_rng(seed)
    X, Xt = rng.normal(size=(240, 3)), rng.normal(size=(80, 3)) + [0.8, 0.0, 0.0]
    return X, (X[:, 0] + 0.3 * rng.normal(size=240) > 0).astype(int), Xt, (Xt[:, 0] > 0).astype(int)


def _late_rows(part) -> float:
    """A toy diagnostic: where the validation rows sit in the pool (1: at its end)."""
    return float(np.mean(part.val) / (len(part.train) + len(part.val) - 1))


@pytest.fixture
def toy_diagnostic(monkeypatch):
    monkeypatch.setitem(DIAGNOSTICS, "late_rows", Diagnostic(_late_rows, ideal=1.0, label="late rows",
                                                             meaning="late rows: where validation sits (1: at the end)."))


@pytest.fixture
def toy_estimator(monkeypatch):
    # A toy estimator: every model scores half. One entry, vectorised over the models of a part.
    monkeypatch.setitem(ESTIMATORS, "half", Estimator(lambda c: np.full(len(c.correct), 0.5)))


def test_a_registered_diagnostic_reaches_the_summary_the_report_and_the_json(toy_diagnostic, tmp_path):
    X, y, Xt, yt = _data()
    r = splitters.compare_strategies(X, y, Xt, yt, strategies=["head", "tail"], models=["lda", "naive_bayes"],
                                     repeats=1, val_size=40, progress=False, estimate=False)
    assert r.summary.loc["tail", "late_rows"] == pytest.approx(1.0 - 39 / 2 / 239)
    assert r.summary.loc["head", "late_rows"] == pytest.approx(19.5 / 239)
    assert list(r.summary.columns).index("late_rows") == list(r.summary.columns).index("adv_auc") + 1
    text = r.to_markdown()
    header = next(line for line in text.splitlines() if line.startswith("| strategy |"))
    assert header.endswith("| val-vs-test AUC | late rows |") and "late rows: where validation sits" in text
    r.write(str(tmp_path))
    saved = json.loads((tmp_path / "results.json").read_text())
    assert {row["strategy"]: row["late_rows"] for row in saved["summary"]} == pytest.approx(
        r.summary.late_rows.to_dict())
    assert "late rows" in (tmp_path / "report.md").read_text()


@pytest.fixture
def toy_alone(toy_diagnostic):
    """The toy as the only diagnostic; the table comes back whole and in its order (which sets the
    order in which diagnostics draw from the run's generator)."""
    saved = dict(DIAGNOSTICS)
    DIAGNOSTICS.clear()
    DIAGNOSTICS["late_rows"] = saved["late_rows"]
    yield
    DIAGNOSTICS.clear()
    DIAGNOSTICS.update(saved)


def test_the_recommendation_reads_the_diagnostics_table(toy_alone):
    # Unlabeled, with the toy alone in the table, the toy decides: tail's validation sits at the end.
    X, y, Xt, _ = _data()
    r = splitters.compare_strategies(X, y, Xt, strategies=["head", "tail"], models=["lda"], repeats=1, val_size=40,
                                     progress=False, estimate=False)
    assert r.recommended == "tail" and list(r.summary.columns).count("late_rows") == 1
    assert "nn_shift" not in r.summary and "NN-distance shift" not in r.to_markdown()


def test_a_registered_estimator_reaches_the_estimates_their_summary_and_the_report(toy_estimator):
    X, y, Xt, yt = _data()
    r = splitters.compare_strategies(X, y, Xt, yt, strategies=["random"], models=["lda", "naive_bayes", "knn"],
                                     repeats=2, val_size=60, progress=False)
    half = r.estimates[r.estimates.estimator == "half"]
    assert len(half) == 2 * 3 and (half.estimate == 0.5).all()
    assert (half.lo <= 0.5).all() and (half.hi >= 0.5).all() and (half.hi > half.lo).all()
    assert list(dict.fromkeys(r.estimates.estimator))[-1] == "half"  # table order: after the built-ins
    row = r.estimate_summary.loc[("random", "half")]
    truth = r.estimates[r.estimates.estimator == "half"].test_score
    assert row.mae == pytest.approx(float(np.abs(0.5 - truth).mean()))
    assert "| half | " in r.to_markdown()
    assert any(e["estimator"] == "half" for e in r.to_dict()["estimates"])
    assert r.default_estimator == "aline_kappa" and r.ship["estimator"] == "aline_kappa"


def test_a_per_model_estimator_also_answers_one_model_at_a_time(toy_estimator):
    p = np.array([[0.9, 0.1], [0.2, 0.8]])
    assert splitters.estimation.per_model("half", p, np.array([0, 1]), p) == 0.5
