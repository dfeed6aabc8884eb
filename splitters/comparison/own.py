"""Label-free estimates for models you trained yourself: :func:`estimate_from_predictions`.

It lives with the engine, not in :mod:`splitters.estimation`, because it may fit the default zoo
(:func:`splitters.default_models`) as reference models, and the estimates room fits no model.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .. import estimation
from .zoo import default_models


def _reference_probas(reference, models, classes: int, n_val: int, n_target: int, random_state: int) -> dict:
    """The reference models fitted on ``X_train`` and their probabilities on ``X_val`` and ``X_target``,
    columns aligned to the class indices ``0 .. classes - 1``."""
    from sklearn.base import clone

    if not isinstance(reference, tuple | list) or len(reference) != 4:
        raise ValueError("reference must be a tuple (X_train, y_train, X_val, X_target)")
    X_train, y_train, X_val, X_target = (np.asarray(a) for a in reference)
    X_train, X_val, X_target = (np.asarray(a, dtype=float) for a in (X_train, X_val, X_target))
    for label, X, rows in (("X_train", X_train, len(y_train)), ("X_val", X_val, n_val), ("X_target", X_target, n_target)):
        if X.ndim != 2 or len(X) != rows:
            raise ValueError(f"reference {label} must be 2-D with {rows} rows (one per "
                             f"{'label of y_train' if label == 'X_train' else 'row of your probabilities'}), "
                             f"got shape {X.shape}")
    if len({X_train.shape[1], X_val.shape[1], X_target.shape[1]}) != 1:
        raise ValueError(f"reference X_train, X_val and X_target must have the same columns, got "
                         f"{X_train.shape[1]}, {X_val.shape[1]} and {X_target.shape[1]}")
    y_train = np.asarray(y_train)
    if y_train.ndim != 1 or y_train.dtype.kind not in "iu" or y_train.min() < 0 or y_train.max() >= classes:
        raise ValueError(f"reference y_train must hold class indices 0..{classes - 1}, as y_val does")
    models = default_models(random_state) if models is None else dict(models)
    out = {}
    for name, model in models.items():
        m = clone(model).fit(X_train, y_train)
        # A model sees only the classes of y_train: its columns go to those classes' places.
        cols = np.asarray(m.classes_, dtype=int)
        pv, pt = np.zeros((len(X_val), classes)), np.zeros((len(X_target), classes))
        pv[:, cols], pt[:, cols] = m.predict_proba(X_val), m.predict_proba(X_target)
        out[str(name)] = (pv, pt)
    return out


def estimate_from_predictions(
    probas,
    y_val,
    *,
    reference=None,
    reference_models: Mapping | None = None,
    y_target=None,
    n_boot: int = 50,
    random_state: int = 0,
) -> estimation.Estimates:
    """Estimate your models' accuracy on unlabeled target rows from their class probabilities.

    For models trained anywhere (a torch network, a service): give each model's probabilities on
    labeled validation rows and on the target rows, and get the same estimates table as
    :func:`splitters.compare_strategies` gives in ``result.estimates``. What each estimator needs:

    - ``validation``, ``doc``, ``atc_maxprob``, ``atc_negentropy``: one model's probabilities
      and ``y_val``; they work with a single model.
    - ``importance_weighted``: the validation rows' importance weights, which need the rows'
      features; computed from ``reference``'s ``X_val`` and ``X_target`` when given, else it
      equals ``validation``.
    - ``aline_s``, ``aline_d`` and the default ``aline_kappa``: an agreement line over at least 3
      models (:data:`splitters.estimation.reliability.MIN_MODELS`) that fits. With fewer, their
      rows say ``reliable`` False and why (``reason``), their interval is [0, 1], and
      ``warnings`` says "cannot estimate"; pass ``reference`` to add the default zoo.

    Parameters
    ----------
    probas : pair of arrays, or mapping from name to a pair of arrays
        ``(proba_val, proba_target)``: class probabilities of shape ``(n_val, n_classes)`` on the
        labeled validation rows and ``(n_target, n_classes)`` on the target rows; column ``j`` is
        class ``j``. One pair is one model, named ``"model"``.
    y_val : array-like of shape (n_val,)
        The validation labels as class indices ``0 .. n_classes - 1``.
    reference : tuple (X_train, y_train, X_val, X_target), optional
        Features (2-D, numeric) of a training set with its labels (class indices), and of the
        same validation and target rows as ``probas``: the reference models are fitted on
        ``X_train`` and join the zoo (``reference`` True in the table), and the importance
        weights are computed from ``X_val`` and ``X_target``.
    reference_models : mapping from name to a scikit-learn classifier, optional
        The reference models (cloned before fitting). Default: :func:`splitters.default_models`.
    y_target : array-like of shape (n_target,), optional
        Target labels when you have them (to check the estimates): adds ``test_score`` and a
        ``summary`` of how right each estimator was.
    n_boot : int, default=50
        Bootstrap replicates for the intervals.
    random_state : int, default=0
        Seeds the bootstrap, the domain classifier and the reference models.

    Returns
    -------
    splitters.estimation.Estimates
        ``table``: one row per model and estimator, the columns of
        :data:`splitters.estimation.ESTIMATE_COLUMNS` (``strategy`` is ``"own"``, ``repeat`` 0)
        plus ``status`` (``failed`` for a model whose probabilities are NaN, negative or do not
        sum to 1, with the reason), ``reference``, ``ess``, ``chance_val``, ``chance_target``
        (and ``test_score``). ``warnings``: what to read first. ``default``: the default
        estimator's name. Per model, the default's estimate:
        ``splitters.estimation.model_estimates(est.table, "own")``.

    Raises
    ------
    ValueError
        On arrays of the wrong shape or labels that are not class indices, with what was
        expected; or when no model has usable probabilities.

    Examples
    --------
    >>> import numpy as np, splitters
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(600, 4)); y = (X[:, 0] + X[:, 1] > 0).astype(int)
    >>> Xt = rng.normal(size=(300, 4)) + [0.3, 0, 0, 0]
    >>> from sklearn.linear_model import LogisticRegression
    >>> mine = LogisticRegression().fit(X[:400], y[:400])
    >>> est = splitters.estimate_from_predictions((mine.predict_proba(X[400:]), mine.predict_proba(Xt)), y[400:])
    >>> est.warnings[0][:45]
    'own: cannot estimate the target accuracy here'
    >>> est = splitters.estimate_from_predictions({"mine": (mine.predict_proba(X[400:]), mine.predict_proba(Xt))},
    ...                                           y[400:], reference=(X[:400], y[:400], X[400:], Xt))
    >>> est.warnings, sorted(est.table.model.unique())[:3]
    ([], ['extra_trees', 'knn', 'lda'])
    """
    own = probas if isinstance(probas, Mapping) else {"model": probas}
    ref, weights = None, None
    if reference is not None:
        first = next(iter(own.values()))
        if not isinstance(first, tuple | list) or len(first) != 2:
            raise ValueError("probas must be a pair (proba_val, proba_target) of arrays or a mapping name -> such a pair")
        pv, pt = np.asarray(first[0]), np.asarray(first[1])
        if pv.ndim != 2 or pt.ndim != 2:
            raise ValueError(f"proba_val and proba_target must be 2-D, got shapes {pv.shape} and {pt.shape}")
        if len(pv) != len(np.asarray(y_val)):  # found before the zoo is fitted, not after
            raise ValueError(f"proba_val has {len(pv)} rows but y_val has {len(np.asarray(y_val))} labels")
        ref = _reference_probas(reference, reference_models, pv.shape[1], len(pv), len(pt), random_state)
        weights = estimation.density_ratio(reference[2], reference[3], random_state=random_state,
                                           max_rows=estimation.stage.DOMAIN_ROWS)
    return estimation.estimate_from_probabilities(own, y_val, reference=ref, weights=weights, y_target=y_target,
                                                  n_boot=n_boot, random_state=random_state)
