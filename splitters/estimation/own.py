"""Label-free estimates from probabilities a user brings: models trained anywhere, predicting on
labeled validation rows and on unlabeled target rows.

:func:`estimate_from_probabilities` checks the arrays, records a model whose probabilities are not
probabilities as a ``failed`` row, and runs :func:`splitters.estimation.estimate_accuracies` over
one validation part, so its table is the table of a comparison (one ``strategy``, repeat 0). Fitting
reference models to add to a small zoo is the comparison engine's work:
:func:`splitters.estimate_from_predictions` does it and calls this function.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from .estimators import DEFAULT_ESTIMATOR
from .intervals import estimate_accuracies
from .predictions import GroupPredictions, check_proba, probability_problem
from .stage import Estimates, estimate_warnings, summarise_estimates, with_failed_rows, with_row_details

OWN = "own"  # the ``strategy`` of the table: the user's validation rows, one part


def _as_models(probas, what: str) -> dict[str, tuple]:
    """``probas`` as a mapping name -> (proba_val, proba_target); one pair is the model ``"model"``."""
    if isinstance(probas, Mapping):
        if not probas:
            raise ValueError(f"{what}: no models given")
        out = {}
        for name, pair in probas.items():
            if not isinstance(pair, tuple | list) or len(pair) != 2:
                raise ValueError(f"{what}[{name!r}] must be a pair (proba_val, proba_target)")
            out[str(name)] = tuple(pair)
        return out
    if isinstance(probas, tuple | list) and len(probas) == 2:
        return {"model": tuple(probas)}
    raise ValueError(f"{what} must be a pair (proba_val, proba_target) of arrays or a mapping name -> such a pair")


def _checked(models: dict[str, tuple], n_val: int, shape: dict) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Every model's arrays as 2-D floats of one shape: ``(n_val, k)`` and ``(n_target, k)``.
    NaN is allowed here (it makes a ``failed`` row, not an error); a wrong shape is an error."""
    out = {}
    for name, (pv, pt) in models.items():
        pv, pt = np.asarray(pv, dtype=float), np.asarray(pt, dtype=float)
        for label, p in (("proba_val", pv), ("proba_target", pt)):
            if p.ndim != 2 or p.shape[0] == 0 or p.shape[1] < 2:
                raise ValueError(f"{name}: {label} must be a 2-D array (rows x classes, at least 2 classes), "
                                 f"got shape {p.shape}")
        if len(pv) != n_val:
            raise ValueError(f"{name}: proba_val has {len(pv)} rows but y_val has {n_val} labels")
        shape.setdefault("classes", pv.shape[1])
        shape.setdefault("target", len(pt))
        if pv.shape[1] != shape["classes"] or pt.shape[1] != shape["classes"]:
            raise ValueError(f"{name}: {pv.shape[1]} classes on validation and {pt.shape[1]} on target; "
                             f"every model must give {shape['classes']} class columns")
        if len(pt) != shape["target"]:
            raise ValueError(f"{name}: proba_target has {len(pt)} rows, another model's has {shape['target']}")
        out[name] = (pv, pt)
    return out


def estimate_from_probabilities(
    probas,
    y_val,
    *,
    reference: Mapping[str, tuple] | None = None,
    weights=None,
    y_target=None,
    n_boot: int = 50,
    random_state: int = 0,
) -> Estimates:
    """Estimate each model's accuracy on unlabeled target rows from its class probabilities.

    See :func:`splitters.estimate_from_predictions` for what each estimator needs; this is its
    label-free core, without fitting anything.

    Parameters
    ----------
    probas : pair of arrays, or mapping from name to a pair of arrays
        ``(proba_val, proba_target)``: class probabilities of shape ``(n_val, n_classes)`` on the
        labeled validation rows and ``(n_target, n_classes)`` on the target rows, column ``j``
        being class ``j``. One pair is one model named ``"model"``.
    y_val : array-like of shape (n_val,)
        The validation rows' labels as class indices ``0 .. n_classes - 1``.
    reference : mapping from name to a pair of arrays, optional
        More models' probabilities on the same rows, to give the agreement line a zoo
        (the ``reference`` column of the table marks them).
    weights : array-like of shape (n_val,), optional
        Importance weights of the validation rows (:func:`splitters.estimation.density_ratio`);
        without them ``importance_weighted`` equals ``validation``.
    y_target : array-like of shape (n_target,), optional
        The target labels, when known: the table gains ``test_score`` and ``summary`` says how
        right each estimator was.
    n_boot : int, default=50
        Bootstrap replicates for the intervals.
    random_state : int, default=0
        Seeds the bootstrap.

    Returns
    -------
    Estimates
        ``table`` as :attr:`splitters.ComparisonResult.estimates` (``strategy`` ``"own"``,
        ``repeat`` 0, plus ``reference``), ``warnings`` (estimates without a basis, failed
        probabilities), ``summary`` (with ``y_target``), ``lines``, ``notes``.

    Raises
    ------
    ValueError
        On arrays of the wrong shape, labels that are not class indices, names given twice, or
        when no model at all has usable probabilities.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.integers(0, 2, 200)
    >>> p = np.eye(2)[np.where(rng.random(200) < 0.8, y, 1 - y)] * 0.8 + 0.1
    >>> est = estimate_from_probabilities((p, p), y, n_boot=10)
    >>> est.warnings
    ['own: cannot estimate the target accuracy here: only 1 model with usable predictions (at least 3 are needed).']
    """
    y = np.asarray(y_val)
    if y.ndim != 1 or len(y) == 0:
        raise ValueError(f"y_val must be a non-empty 1-D array of class indices, got shape {y.shape}")
    own, ref = _as_models(probas, "probas"), _as_models(reference, "reference") if reference is not None else {}
    if set(own) & set(ref):
        raise ValueError(f"names given both as your models and as reference models: {sorted(set(own) & set(ref))}")
    shape: dict = {}
    arrays = _checked({**own, **ref}, len(y), shape)
    if y.dtype.kind not in "iu" or y.min() < 0 or y.max() >= shape["classes"]:
        raise ValueError(f"y_val must hold class indices 0..{shape['classes'] - 1} (the probabilities' columns)")
    if weights is not None:
        weights = np.asarray(weights, dtype=float)
        if weights.shape != (len(y),):
            raise ValueError(f"weights must have one value per validation row ({len(y)}), got shape {weights.shape}")
    if y_target is not None:
        y_target = np.asarray(y_target)
        if y_target.shape != (shape["target"],):
            raise ValueError(f"y_target must have one label per target row ({shape['target']}), "
                             f"got shape {y_target.shape}")
    failed, usable = {}, {}
    for name, (pv, pt) in arrays.items():
        # Bad probabilities are the model's fault, not the caller's: a failed row, never an error,
        # so the other models still get their estimates.
        problem = probability_problem(pv) or probability_problem(pt)
        if problem:
            failed[(OWN, 0, name)] = f"{name}: probabilities gave {problem}"
        else:
            usable[name] = (check_proba(pv, "proba_val"), check_proba(pt, "proba_target"))
    if not usable:
        raise ValueError("no model has usable probabilities: " + "; ".join(failed.values()))
    names = list(usable)
    group = GroupPredictions(np.stack([usable[m][0] for m in names]), y, np.stack([usable[m][1] for m in names]),
                             weights, names)
    groups = {(OWN, 0): group}
    table, info = estimate_accuracies(groups, n_boot=n_boot, random_state=random_state)
    table = with_failed_rows(with_row_details(table, groups, info), failed)
    table["reference"] = table.model.isin(list(ref))
    summary = pd.DataFrame()
    if y_target is not None:
        truth = {m: float(np.mean(usable[m][1].argmax(axis=1) == y_target)) for m in names}
        table["test_score"] = [truth.get(m, np.nan) for m in table.model]
        summary = summarise_estimates(table)
    notes = sorted(set(failed.values()))
    return Estimates(table, summary, DEFAULT_ESTIMATOR,
                     info["kappa_lines"], {f"{OWN}/0": info["ess"][(OWN, 0)]}, notes, estimate_warnings(table))
