"""The estimation stage's edges: inputs it refuses and why, failed rows, warnings, summaries,
the model it ships, the line floor and the progress bar, each on tiny planted data."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.special import ndtr
from test_estimates import _model

from splitters import estimation as E
from splitters.estimation import floor as F
from splitters.estimation import intervals as I
from splitters.estimation import shipping as SH
from splitters.estimation import stage as S


def _probas(seed=0, n=80, n_target=60, accs=(0.5, 0.7, 0.9)):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    yt = rng.integers(0, 3, n_target)
    models = {f"m{k}": (_model(y, a, rng), _model(yt, a - 0.1, rng)) for k, a in enumerate(accs)}
    return models, y, yt


# --- estimate_from_probabilities: what it refuses ------------------------------------------------

def test_own_probabilities_refuse_labels_that_are_empty_or_not_one_dimensional():
    models, y, _ = _probas()
    for bad in (np.array([], dtype=int), y.reshape(-1, 2)):
        with pytest.raises(ValueError, match=re.escape(f"y_val must be a non-empty 1-D array of class indices, "
                                                       f"got shape {bad.shape}")):
            S.estimate_from_probabilities(models, bad)


def test_own_probabilities_accept_one_validation_row_and_one_target_row():
    p = np.array([[0.2, 0.8]])
    est = S.estimate_from_probabilities({"a": (p, p), "b": (p[:, ::-1], p)}, np.array([1]), n_boot=2)
    assert set(est.table.model) == {"a", "b"}
    val = est.table[est.table.estimator == "validation"].set_index("model").val_score
    assert val["a"] == 1.0 and val["b"] == 0.0


def test_own_probabilities_refuse_labels_that_are_not_integers():
    models, y, _ = _probas()
    with pytest.raises(ValueError, match=re.escape("y_val must hold class indices 0..2 (the probabilities' columns)")):
        S.estimate_from_probabilities(models, y.astype(float))


def test_own_probabilities_name_the_reference_argument_in_its_errors():
    models, y, _ = _probas()
    with pytest.raises(ValueError, match=re.escape("reference['r'] must be a pair (proba_val, proba_target)")):
        S.estimate_from_probabilities(models, y, reference={"r": (1, 2, 3)})
    with pytest.raises(ValueError, match=re.escape("reference: no models given")):
        S.estimate_from_probabilities(models, y, reference={})


def test_own_probabilities_name_only_the_models_given_twice():
    models, y, _ = _probas()
    with pytest.raises(ValueError, match=re.escape("names given both as your models and as reference models: "
                                                   "['m1']") + "$"):
        S.estimate_from_probabilities({"m0": models["m0"], "m1": models["m1"]}, y,
                                      reference={"m1": models["m1"], "m2": models["m2"]})


def test_own_probabilities_refuse_weights_and_target_labels_of_the_wrong_length():
    models, y, yt = _probas()
    with pytest.raises(ValueError, match=re.escape(f"weights must have one value per validation row ({len(y)}), "
                                                   "got shape (3,)")):
        S.estimate_from_probabilities(models, y, weights=[1, 2, 3])
    with pytest.raises(ValueError, match=re.escape(f"y_target must have one label per target row ({len(yt)}), "
                                                   "got shape (2,)")):
        S.estimate_from_probabilities(models, y, y_target=[0, 1])


def test_own_probabilities_refuse_a_target_without_rows():
    models, y, _ = _probas()
    pv = models["m0"][0]
    with pytest.raises(ValueError, match=re.escape("a: proba_target must be a 2-D array (rows x classes, at least "
                                                   "2 classes), got shape (0, 3)")):
        S.estimate_from_probabilities({"a": (pv, np.zeros((0, 3)))}, y)


def test_own_probabilities_refuse_anything_but_a_pair_or_a_mapping():
    models, y, _ = _probas()
    message = "probas must be a pair (proba_val, proba_target) of arrays or a mapping name -> such a pair"
    for bad in ((*models["m0"], models["m0"][0]), [models["m0"][0]], "ab"):
        with pytest.raises(ValueError, match=re.escape(message)):
            S.estimate_from_probabilities(bad, y)
    with pytest.raises(ValueError, match=re.escape("probas: no models given")):
        S.estimate_from_probabilities({}, y)


def test_one_pair_is_the_model_named_model():
    models, y, _ = _probas()
    est = S.estimate_from_probabilities(models["m1"], y, n_boot=2)
    assert set(est.table.model) == {"model"}


def test_own_probabilities_say_every_failed_model_when_none_is_usable():
    _, y, _ = _probas()
    bad = np.full((len(y), 3), np.nan)
    neg = np.tile([-0.5, 1.0, 0.5], (len(y), 1))
    with pytest.raises(ValueError) as err:
        S.estimate_from_probabilities({"a": (bad, bad), "b": (neg, neg)}, y)
    assert str(err.value) == ("no model has usable probabilities: a: probabilities gave NaN or infinite probabilities "
                              f"({bad.size} of {bad.size} values); b: probabilities gave negative probabilities "
                              f"({len(y)} of {neg.size} values; the lowest is -0.5)")


def test_own_probabilities_fill_in_the_stage_outputs():
    models, y, yt = _probas()
    bad = np.full_like(models["m0"][0], np.nan)
    est = S.estimate_from_probabilities({**models, "bad": (bad, models["m0"][1])}, y, n_boot=3)
    assert est.default == E.DEFAULT_ESTIMATOR == "aline_kappa"
    assert est.summary.empty and isinstance(est.summary, pd.DataFrame)
    assert est.notes == [f"bad: probabilities gave NaN or infinite probabilities ({bad.size} of {bad.size} values)"]
    assert list(est.ess) == ["own/0"] and est.ess["own/0"] == pytest.approx(len(y))
    assert list(est.lines) == ["own"] and est.lines["own"] is not None and "slope" in est.lines["own"]
    failed = est.table[est.table.status == "failed"]
    assert set(failed.model) == {"bad"} and set(failed.repeat) == {0} and set(failed.strategy) == {"own"}
    assert (failed.reliable == False).all()  # noqa: E712 - False, not missing
    assert list(est.table.index) == list(range(len(est.table)))
    assert est.warnings[0] == est.notes[0] + "; it is left out of the estimates and never shipped."
    labelled = S.estimate_from_probabilities({**models, "bad": (bad, models["m0"][1])}, y, y_target=yt, n_boot=3)
    assert labelled.table[labelled.table.model == "bad"].test_score.isna().all()
    assert labelled.table.test_score.dtype == float


def test_own_probabilities_default_to_50_replicates_seed_0_and_pass_the_seed_on():
    models, y, _ = _probas()
    default = S.estimate_from_probabilities(models, y).table
    same = S.estimate_from_probabilities(models, y, n_boot=50, random_state=0).table
    pd.testing.assert_frame_equal(default, same)
    names = list(models)
    g = E.GroupPredictions(np.stack([models[m][0] for m in names]), y, np.stack([models[m][1] for m in names]),
                           None, names)
    for seed in (3, 4):
        t = S.estimate_from_probabilities(models, y, n_boot=7, random_state=seed).table
        ref, _ = E.estimate_accuracies({("own", 0): g}, n_boot=7, random_state=seed)
        np.testing.assert_allclose(t[["lo", "hi"]].to_numpy(float), ref[["lo", "hi"]].to_numpy(float))
    ref, _ = E.estimate_accuracies({("own", 0): g}, n_boot=50, random_state=0)
    np.testing.assert_allclose(default[["lo", "hi"]].to_numpy(float), ref[["lo", "hi"]].to_numpy(float))


# --- with_failed_rows, estimate_warnings, summarise_estimates -------------------------------------

def test_failed_rows_are_unreliable_and_renumbered():
    t = pd.DataFrame({c: [1.0] for c in S.ESTIMATE_COLUMNS}).assign(strategy="s", repeat=0, model="ok",
                                                                     estimator="e", reliable=True, reason="")
    t.index = [7]
    out = S.with_failed_rows(t, {("s", 0, "m"): "m: NaN"})
    assert list(out.index) == list(range(1 + len(E.ESTIMATORS)))
    bad = out[out.status == "failed"]
    assert (bad.reliable == False).all() and (bad.reason == "m: NaN").all()  # noqa: E712
    assert bad[["val_score", "estimate", "lo", "hi"]].isna().all().all()


def _warn_table(**extra):
    return pd.DataFrame({"strategy": ["tail", "tail", "random", "random", "tail"], "repeat": 0,
                         "model": ["a", "b", "a", "b", "a"], "estimator": ["e", "e", "e", "e", "other"],
                         "reliable": [False, False, False, True, False],
                         "reason": ["too few", "line off", "too few", "", "other reason"], **extra},
                        index=[10, 11, 12, 13, 14])


def test_warnings_read_only_their_estimator_keep_strategy_order_and_need_no_status_column():
    assert S.estimate_warnings(_warn_table(), "e") == [
        "tail: cannot estimate the target accuracy here: too few; line off.",
        "random: cannot estimate the target accuracy here: too few."]
    assert S.estimate_warnings(_warn_table(), "other") == [
        "tail: cannot estimate the target accuracy here: other reason."]


def test_warnings_put_failed_models_first():
    t = _warn_table(status=["ok", "failed", "ok", "ok", "ok"])
    assert S.estimate_warnings(t, "e") == [
        "line off; it is left out of the estimates and never shipped.",
        "tail: cannot estimate the target accuracy here: too few.",
        "random: cannot estimate the target accuracy here: too few."]


def test_summary_leaves_out_failed_rows_and_counts_unbased_estimates_as_abstentions():
    t = pd.DataFrame({"strategy": "s", "repeat": 0, "model": ["a", "b", "c", "d"], "estimator": "e",
                      "val_score": 0.5, "estimate": [0.6, 0.9, 0.2, np.nan], "lo": [0.5, 0.0, 0.1, np.nan],
                      "hi": [0.7, 1.0, 0.3, np.nan], "reliable": [True, False, True, False],
                      "reason": ["", "no basis", "", "m: NaN"], "status": ["ok", "ok", "ok", "failed"],
                      "test_score": [0.5, 0.5, 0.5, 0.5]})
    row = S.summarise_estimates(t).loc[("s", "e")]
    assert row.abstain == pytest.approx(1 / 3)
    assert row.mae == pytest.approx(0.2) and row.bias == pytest.approx(-0.1)
    assert row.coverage == pytest.approx(0.5) and row.width == pytest.approx(0.2)
    nobody = S.summarise_estimates(t.assign(reliable=False)).loc[("s", "e")]
    assert nobody.abstain == 1.0 and np.isnan(nobody.coverage)
    plain = S.summarise_estimates(t.drop(columns=["reliable", "status"]).iloc[:3]).loc[("s", "e")]
    assert plain.abstain == 0.0 and plain.mae == pytest.approx(0.8 / 3)


# --- estimate_scores on stand-in plan, splits and fits --------------------------------------------

def _stage(seed=21, models=("a", "b", "c"), progress=None, strategies=("s",)):
    from types import SimpleNamespace as NS

    rng = np.random.default_rng(seed)
    classes = np.array([3, 7, 9])
    X, X_test = rng.normal(size=(60, 2)), rng.normal(size=(40, 2)) + [0.7, 0.0]
    y, y_test = classes[rng.integers(0, 3, 60)], classes[rng.integers(0, 3, 40)]
    parts = {(s, 0): (np.arange(30), np.arange(30, 60)) for s in strategies}
    preds = {}
    for (s, r), (_, val) in parts.items():
        for k, m in enumerate(models):
            pv = _model(np.searchsorted(classes, y[val]), 0.5 + 0.15 * k, rng)
            pt = _model(np.searchsorted(classes, y_test), 0.4 + 0.15 * k, rng)
            preds[(s, r, m)] = NS(val_proba=pv, val_pred=classes[pv.argmax(1)], test_proba=pt,
                                  test_pred=classes[pt.argmax(1)])
    plan = NS(classes=classes, models={m: None for m in models}, X=X, y=y, X_test=X_test, y_test=y_test,
              labeled=True, random_state=7, seed=lambda r: 7 + r)
    if progress is not None:
        plan.progress = progress
    return plan, NS(parts=parts), NS(predictions=preds)


def test_estimate_scores_names_every_failed_model_when_none_is_usable():
    plan, splits, fits = _stage(models=("a", "b"))
    for m in ("a", "b"):
        fits.predictions[("s", 0, m)].val_proba = np.full((30, 3), 0.5)
    with pytest.raises(ValueError) as err:
        S.estimate_scores(plan, splits, fits, n_boot=0)
    assert str(err.value) == ("no model of any strategy has predictions to estimate from"
                              "; a: predict_proba gave rows that do not sum to 1 (30 of 30 rows; the worst sums to 1.5)"
                              "; b: predict_proba gave rows that do not sum to 1 (30 of 30 rows; the worst sums to 1.5)")


def test_a_model_with_bad_target_probabilities_alone_fails():
    plan, splits, fits = _stage()
    fits.predictions[("s", 0, "b")].test_proba = np.full((40, 3), 0.5)
    est = S.estimate_scores(plan, splits, fits, n_boot=0)
    assert set(est.table[est.table.status == "failed"].model) == {"b"}


def test_estimate_scores_shows_a_bar_only_when_asked(capsys):
    for plan_progress, progress, shown in ((None, None, False), (False, None, False), (True, None, True),
                                           (True, False, False), (False, True, True)):
        plan, splits, fits = _stage(progress=plan_progress)
        S.estimate_scores(plan, splits, fits, n_boot=3, progress=progress)
        err = capsys.readouterr().err
        assert ("estimates: 100%" in err and "3/3" in err) == shown, (plan_progress, progress, err)


def test_estimate_accuracies_shows_no_bar_by_default_and_counts_every_replicate(capsys):
    plan, splits, fits = _stage(strategies=("s", "t"))
    groups = {k: S._group_predictions(plan, splits, fits, k, []) for k in splits.parts}
    E.estimate_accuracies(groups, n_boot=3)
    assert capsys.readouterr().err == ""
    E.estimate_accuracies(groups, n_boot=3, progress=True)
    err = capsys.readouterr().err
    assert re.search(r"estimates: 100%\|.*\| 6/6 \[", err), err
    assert "replicate/s" in err


def test_progress_bar_counts_replicates_under_its_name():
    bar = I._progress_bar(4)
    try:
        assert bar.total == 4 and bar.desc == "estimates" and bar.unit == "replicate"
    finally:
        bar.close()


# --- model_to_ship ---------------------------------------------------------------------------------

def _ship_table(**extra):
    return pd.DataFrame({"strategy": "r", "repeat": 0, "model": ["a", "b"], "estimator": "doc",
                         "val_score": [0.9, 0.85], "estimate": [0.6, 0.8], "lo": [0.5, 0.75], "hi": [0.75, 0.9],
                         **extra})


def test_ship_the_estimates_pick_without_a_reliable_column_when_intervals_part():
    ship = SH.model_to_ship(_ship_table(lo=[0.5, 0.76]), "r", "doc")
    assert ship["model"] == "b" and ship["basis"] == "estimate" and ship["reliable"] is True
    assert ship["reason"] == ""


def test_ship_validations_pick_when_the_intervals_only_touch():
    ship = SH.model_to_ship(_ship_table(), "r", "doc")  # lo of b == hi of a
    assert ship["model"] == "a" and ship["basis"] == "validation"


def test_never_ship_a_failed_model_even_with_the_best_validation_score():
    t = pd.concat([_ship_table(status="ok"),
                   pd.DataFrame({"strategy": ["r"], "repeat": [0], "model": ["z"], "estimator": ["doc"],
                                 "val_score": [0.99], "estimate": [0.99], "lo": [0.98], "hi": [1.0],
                                 "status": ["failed"]})], ignore_index=True)
    assert SH.model_to_ship(t, "r", "doc")["model"] == "a"


# --- line floor ------------------------------------------------------------------------------------

def _line_table(strategies=("tail", "random")):
    x = np.array([-0.4, 0.1, 0.55, 1.3])
    rows = []
    for s in strategies:
        for m, v, t in zip("abcd", ndtr(x), ndtr(0.77 * x - 0.63)):
            rows.append({"strategy": s, "repeat": 0, "model": m, "val_score": v, "test_score": t})
    return pd.DataFrame(rows)


def test_line_floor_keeps_strategy_order_and_is_named_and_float():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = F.line_floor(_line_table())
    assert list(out.index) == ["tail", "random"] and out.name == "line_floor" and out.dtype == float
    assert (out < 1e-9).all()
    empty = F.line_floor(_line_table().assign(test_score=np.nan))
    assert empty.empty and empty.dtype == float and empty.name == "line_floor"


def test_line_floor_names_the_first_clashing_model():
    t = _line_table(("s",))
    t = pd.concat([t, t.assign(test_score=t.test_score + 0.01)], ignore_index=True)
    with pytest.raises(ValueError, match=re.escape("strategy 's', repeat 0, model 'a' disagree")):
        F.line_floor(t)


def test_lad_probit_line_defaults_to_no_chance_and_reaches_an_exact_line():
    x = np.array([-0.4, 0.1, 0.55, 1.3])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert F._lad_probit_line(x, ndtr(0.77 * x - 0.63)) < 1e-9
        flat = F._lad_probit_line(np.zeros(4), np.array([0.3, 0.5, 0.5, 0.7]))
    assert flat == pytest.approx(0.1, abs=1e-6)


# --- validation_score -------------------------------------------------------------------------------

def test_validation_score_is_the_validation_accuracy():
    rng = np.random.default_rng(5)
    y = rng.integers(0, 3, 50)
    pv, pt = _model(y, 0.7, rng), _model(y, 0.3, rng)
    assert E.validation_score(pv, y, pt) == pytest.approx(np.mean(pv.argmax(1) == y))


# --- smaller pieces ------------------------------------------------------------------------------------

def test_probability_problem_boundaries_and_counts():
    from splitters.estimation.predictions import probability_problem

    assert probability_problem([[-0.5, 1.5]], atol=0.5) is None  # exactly at the tolerance: allowed
    assert probability_problem([[0.75, 0.75]], atol=0.5) is None
    assert probability_problem([[0.75, 0.75], [1.0, 1.0]], atol=0.5) == (
        "rows that do not sum to 1 (1 of 2 rows; the worst sums to 2)")
    assert probability_problem([[-0.5, 0.0005, 1.4995]]) == (
        "negative probabilities (1 of 3 values; the lowest is -0.5)")
    assert probability_problem([[-0.5, -1e-3, 1.501]]) == (
        "negative probabilities (1 of 3 values; the lowest is -0.5)")  # -1e-3 is within the tolerance
    assert probability_problem(np.array([[None, 1.0]], dtype=object)) == "NaN or infinite probabilities (1 of 2 values)"


def test_confidence_names_an_unknown_score():
    with pytest.raises(ValueError, match=re.escape("score must be 'maxprob' or 'negentropy', got 'margin'")):
        E.confidence(np.array([[0.2, 0.8]]), "margin")


def test_per_model_refuses_zoo_and_unknown_estimators_by_name():
    p = np.array([[0.9, 0.1], [0.2, 0.8]])
    names = [k for k, v in E.ESTIMATORS.items() if not v.zoo]
    for name in ("aline_s", "nope"):
        with pytest.raises(ValueError, match=re.escape(f"{name!r} is not a per-model estimator; per-model: {names}")):
            E.per_model(name, p, np.array([0, 1]), p)


def test_atc_estimators_follow_the_threshold_rule():
    # Validation: 4 rows, 3 right (75%): the threshold is the 25% quantile of the confidences.
    pv = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.6, 0.4]])
    y = np.array([0, 0, 0, 1])
    pt = np.array([[0.95, 0.05], [0.65, 0.35], [0.55, 0.45], [0.85, 0.15]])
    want = 0.75  # threshold 0.6 (no ties above it): three target rows are more confident
    assert E.per_model("atc_maxprob", pv, y, pt) == want
    g = E.GroupPredictions(np.stack([pv, pv]), y, np.stack([pt, pt]), None, ["a", "b"])
    t, _ = E.estimate_accuracies({("s", 0): g}, n_boot=0)
    assert (t[t.estimator == "atc_maxprob"].estimate == want).all()


def test_hull_interval_is_clipped_to_zero_one_on_both_ends():
    from splitters.estimation.reliability import hull_interval

    v = np.array([1.5, -0.5])
    lo, hi = hull_interval(v, v, v, np.zeros(2))
    np.testing.assert_array_equal(lo, [1.0, 0.0])
    np.testing.assert_array_equal(hi, [1.0, 0.0])


def test_model_estimates_leave_no_reason_for_a_model_with_a_basis():
    t = _ship_table(reliable=[True, False], reason=["", "no basis"])
    out = SH.model_estimates(t, "r", "doc")
    assert out.reason.to_dict() == {"a": "", "b": "no basis"}
    ship = SH.model_to_ship(t, "r", "doc")
    assert ship["model"] == "a" and ship["reason"] == "" and ship["reliable"] is True


def test_estimates_table_leads_with_strategy_repeat_model_and_gives_no_reason_for_a_basis():
    models, y, _ = _probas()
    t = S.estimate_from_probabilities(models, y, n_boot=2).table
    assert list(t.columns[:4]) == ["strategy", "repeat", "model", "estimator"]
    assert (t[t.reliable.astype(bool)].reason == "").all() and t.reliable.astype(bool).any()


def test_line_floor_counts_a_row_whatever_its_repeat_label():
    t = _line_table(("s",))
    off = pd.DataFrame({"strategy": ["s"], "repeat": [np.nan], "model": ["e"], "val_score": [0.5],
                        "test_score": [0.95]})
    assert float(F.line_floor(pd.concat([t, off], ignore_index=True))["s"]) > 0.01


# --- conversions to float, and what they guard against ------------------------------------------------

def test_probit_computes_in_double_precision_whatever_the_input_dtype():
    from scipy.special import ndtri

    from splitters.estimation.agreement import probit

    # float32 scores (e.g. from torch) must not drag the probits down to float32 precision, and an
    # object column (pandas gives one for mixed data) must still be read as numbers.
    p32 = np.array([0.9, 0.975], dtype=np.float32)
    out = probit(p32)
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, ndtri(p32.astype(float)))
    np.testing.assert_array_equal(probit(np.array([0.9, 0.975], dtype=object)), ndtri([0.9, 0.975]))


def test_compact_reads_missing_values_as_nan():
    from splitters.estimation.predictions import compact

    # None (a missing value in a Python list) must become NaN like any other unusable number,
    # not break the argmax over classes.
    pv = np.array([[[None, 1.0], [0.2, 0.8]]], dtype=object)
    pt = np.array([[[0.4, None], [0.3, 0.7]]], dtype=object)
    c = compact(E.GroupPredictions(pv, np.array([1, 1]), pt, np.array([1.0, None], dtype=object), ["m"]))
    assert np.isnan(c.conf_val["maxprob"][0, 0]) and np.isnan(c.conf_t["maxprob"][0, 0])
    assert c.conf_val["maxprob"][0, 1] == 0.8 and c.conf_t["maxprob"][0, 1] == 0.7
    assert c.weights.dtype == float and c.weights[0] == 1.0 and np.isnan(c.weights[1])


def test_per_model_refuses_a_missing_weight_with_its_own_message():
    p = np.array([[0.9, 0.1], [0.2, 0.8]])
    with pytest.raises(ValueError, match=re.escape("weights must be 2 finite non-negative numbers with a positive sum")):
        E.per_model("importance_weighted", p, np.array([0, 1]), p, weights=[1.0, None])


def test_own_probabilities_that_are_not_numbers_are_named_before_the_labels_are_checked():
    models, y, yt = _probas()
    text = np.full(models["m0"][0].shape, "n/a")
    # The error must point at the array that holds no numbers, not at labels checked later.
    for pair in ((text, models["m0"][1]), (models["m0"][0], text[: len(yt)])):
        with pytest.raises(ValueError, match=r"could not convert string to float: .*n/a"):
            S.estimate_from_probabilities({"a": pair}, y.astype(float))
    with pytest.raises(ValueError, match=r"could not convert string to float: .*n/a"):
        S.estimate_from_probabilities(models, y, weights=["n/a"] * len(y), y_target=[0, 1])


# --- ATC -------------------------------------------------------------------------------------------

def test_atc_puts_target_rows_of_minus_infinite_confidence_below_the_threshold():
    # With every validation row right the threshold lies below every validation confidence (-inf):
    # a target row scored -inf (the log of a zero probability) is not above it and counts as wrong.
    est = E.estimators.atc_from_scores(np.array([0.9, 0.6]), np.array([True, True]), np.array([0.8, -np.inf]))
    assert est == 0.5


def test_atc_rule_gives_each_model_its_own_atc_estimate():
    # ESTIMATORS builds its ATC rules once, at import; the builder itself must give per-model ATC.
    rng = np.random.default_rng(2)
    y = rng.integers(0, 3, 40)
    pv = np.stack([_model(y, a, rng) for a in (0.4, 0.9)]) * rng.uniform(0.9, 1.0, (2, 40, 1))
    pv /= pv.sum(axis=2, keepdims=True)
    pt = np.stack([_model(y[:30], a, rng) for a in (0.6, 0.5)])
    c = E.estimators.compact(E.GroupPredictions(pv, y, pt, None, ["a", "b"]))
    for score in ("maxprob", "negentropy"):
        want = [E.per_model(f"atc_{score}", pv[m], y, pt[m]) for m in range(2)]
        assert want[0] != want[1]
        np.testing.assert_array_equal(E.estimators._atc_rule(score)(c), want)


# --- intervals, failed rows, line floor -----------------------------------------------------------------

def test_interval_of_an_infinite_estimate_is_undefined_below_and_quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a runaway estimate must not flood the caller with warnings
        lo, hi = I.interval(np.array([np.inf, 0.5]), np.empty((0, 2)), np.array([0.5, 0.5]), None)
    assert np.isnan(lo[0]) and hi[0] == 1.0
    assert lo[1] == hi[1] == 0.5


def test_failed_rows_add_no_column_the_table_lacks():
    cols = [c for c in S.ESTIMATE_COLUMNS if c not in ("lo", "hi")]
    t = pd.DataFrame({c: [1.0] for c in cols}).assign(strategy="s", repeat=0, model="ok", estimator="e",
                                                      reliable=True, reason="")
    out = S.with_failed_rows(t, {("s", 0, "m"): "m: NaN"})
    assert list(out.columns) == [*cols, "status"]


def test_line_floor_names_the_model_of_the_first_clashing_row():
    t = _line_table(("s",))
    a, b = t.iloc[[0]], t.iloc[[1]]
    clash = pd.concat([a, b, b.assign(test_score=0.5), a.assign(test_score=0.5)], ignore_index=True)
    with pytest.raises(ValueError, match=re.escape("model 'a' disagree")):
        F.line_floor(clash)


def test_line_floor_follows_the_least_squares_line_to_a_steep_line_between_close_scores():
    # The grid's slopes stop at 8; these validation scores are so close that only the start at
    # the least-squares line leads to the steep lines through (-0.008, 0.97), whose error is 0.2475.
    x, t = np.array([-0.008, 0.044, -0.021, 0.043]), np.array([0.97, 0.97, 0.02, 0.06])
    from splitters.estimation.agreement import probit

    steep = np.mean(np.abs(ndtr(1000 * (x + 0.008) + probit(0.97)) - t))
    assert steep == pytest.approx(0.2475)
    assert F._lad_probit_line(x, t) <= steep


def test_line_floor_is_polished_to_the_best_line():
    # A floor left above the best line would credit the estimators with error no line can avoid;
    # the reference line was found by a much longer search.
    x, t = np.array([-1.0, -0.3, 0.2, 0.6, 1.1]), np.array([0.2, 0.45, 0.4, 0.7, 0.65])
    best = np.mean(np.abs(ndtr(0.5842579523716578 * x - 0.25736328120125596) - t))
    assert best - 1e-9 < F._lad_probit_line(x, t) <= best + 2e-11


def test_line_floor_polishes_the_five_best_grid_points_lines_through_pairs_and_the_least_squares_line(monkeypatch):
    from splitters.estimation.agreement import probit

    starts = []
    real = F.minimize

    def spy(fun, x0, **kwargs):
        starts.append(np.asarray(x0, dtype=float))
        return real(fun, x0, **kwargs)

    monkeypatch.setattr(F, "minimize", spy)
    x, t = np.array([-0.4, 0.1, 0.55, 1.3]), np.array([0.3, 0.5, 0.45, 0.8])
    F._lad_probit_line(x, t)

    def mae(q):
        return np.mean(np.abs(ndtr(np.outer(q[:, 0], x) + q[:, 1:]) - t), axis=1)

    through = F._lines_through_pairs(x, probit(t))
    assert len(starts) == 11
    np.testing.assert_array_equal(starts[:5], F._GRID[np.argsort(mae(F._GRID))[:5]])
    np.testing.assert_array_equal(starts[5:10], through[np.argsort(mae(through))[:5]])
    np.testing.assert_allclose(starts[10], np.polyfit(x, probit(t), 1))


def test_lines_through_pairs_meet_both_points_and_skip_equal_validation_scores():
    x, z = np.array([0.0, 1.0, 1.0, 3.0]), np.array([1.0, 3.0, 0.0, 5.0])
    lines = F._lines_through_pairs(x, z)
    # pairs (0,1) (0,2) (0,3) (1,3) (2,3); (1,2) share x = 1 and have no line through both
    np.testing.assert_allclose(lines, [[2.0, 1.0], [-1.0, 1.0], [4 / 3, 1.0], [1.0, 2.0], [2.5, -2.5]])
    assert F._lines_through_pairs(np.zeros(3), z[:3]).shape == (0, 2)


def test_line_floor_finds_a_line_steeper_than_the_grid_through_two_models():
    # Found by a random search: grid starts and the least-squares line all stopped at 0.2223, but the
    # line through the first two models (slope 11.4, beyond the grid) errs only on the third: 0.2118.
    from splitters.estimation.agreement import probit

    x = np.array([-0.3, 0.0, 0.4])
    t = np.array([0.0033770025058895703, 0.7609803191208301, 0.36469428123194625])
    slope = (probit(t[1]) - probit(t[0])) / 0.3
    through = np.mean(np.abs(ndtr(slope * x + probit(t[1])) - t))
    assert through == pytest.approx(0.21177, abs=1e-5)
    assert F._lad_probit_line(x, t) <= through + 1e-12
    assert F._lad_probit_line(np.array([0.0, 0.0]), np.array([0.3, 0.6])) == pytest.approx(0.15)


def test_line_floor_polishes_with_tight_tolerances():
    # Nelder-Mead with scipy's default tolerances (1e-4) stops 7e-12 above this floor.
    x = np.array([0.085, -0.348, 0.25, -0.177, -0.317, -0.27])
    t = np.array([0.395, 0.237, 0.834, 0.392, 0.965, 0.623])
    assert F._lad_probit_line(x, t) <= 0.2201748995308567 + 2e-12
