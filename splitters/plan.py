"""Stage 1 of a comparison: the validated inputs, with strategies and models resolved by name.

:func:`plan_comparison` checks each array once and turns short names into splitters
(:data:`DEFAULT_STRATEGIES`, :mod:`splitters.registry`) and models (:func:`default_models`);
every later stage reads the :class:`Plan` and trusts it.

>>> import numpy as np
>>> p = plan_comparison(np.zeros((10, 2)), np.arange(10) % 2, np.ones((4, 2)), models=["lda", "knn"])
>>> list(p.strategies), list(p.models)
(['tail', 'random', 'maxmin', 'cluster', 'target'], ['lda', 'knn'])
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis, QuadraticDiscriminantAnalysis
from sklearn.ensemble import ExtraTreesClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.tree import DecisionTreeClassifier

from .base import ValidationSplitter, check_int, check_labels, check_X, resolve_size
from .metrics import Metric, get_metric
from .registry import get

DEFAULT_STRATEGIES = ("tail", "random", "maxmin", "cluster", "target")
# The comparison's defaults, written once: compare_strategies' and plan_comparison's signatures and
# the comparison script's options all read them from here.
DEFAULTS: dict[str, Any] = {"metric": "accuracy", "repeats": 3, "random_state": 0, "val_size": 0.1, "progress": True}


def default_models(random_state: int = 0) -> dict[str, Any]:
    """The default zoo: seven models that differ in kind and capacity.

    Parameters
    ----------
    random_state : int, default=0
        Seed of the randomised models (extra trees, decision tree).

    Returns
    -------
    dict of str to estimator
        Unfitted scikit-learn classifiers by short name.

    Examples
    --------
    >>> sorted(default_models())
    ['extra_trees', 'knn', 'lda', 'logreg', 'naive_bayes', 'qda', 'tree']
    """
    return {
        "logreg": LogisticRegression(C=0.01, max_iter=300),
        "lda": LinearDiscriminantAnalysis(),
        "qda": QuadraticDiscriminantAnalysis(reg_param=0.1),
        "naive_bayes": GaussianNB(),
        "knn": KNeighborsClassifier(n_neighbors=5),
        "extra_trees": ExtraTreesClassifier(n_estimators=60, max_depth=18, random_state=random_state, n_jobs=1),
        "tree": DecisionTreeClassifier(max_depth=10, random_state=random_state),
    }


@dataclass
class Plan:
    """The validated inputs every stage reads (built once by :func:`plan_comparison`).

    ``strategies`` and ``models`` are keyed by their names in the tables; ``unusable`` holds
    models that cannot be scored with ``metric`` (name -> reason), known before any fit;
    ``prevalidated`` names the strategies built here from short names, whose array parameters
    (``X_target``) are the plan's already validated ``X_test``.
    """

    X: np.ndarray
    y: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray | None
    groups: np.ndarray | None
    strategies: dict[str, Any]
    models: dict[str, Any]
    metric: Metric
    classes: np.ndarray
    repeats: int
    random_state: int
    n_jobs: int | None = None
    backend: str | None = None
    progress: bool = True
    unusable: dict[str, str] = field(default_factory=dict)
    prevalidated: frozenset[str] = frozenset()

    @property
    def labeled(self) -> bool:
        return self.y_test is not None

    def seed(self, repeat: int) -> int:
        """The random_state of repeat ``repeat``, for splitters and models alike."""
        return self.random_state + repeat


def _named(objects: list, kind: str) -> dict[str, Any]:
    """Names for objects given without one: the class name, or, when a class comes more than once,
    the class name with the parameters that tell them apart."""
    by_class: dict[str, list] = {}
    for o in objects:
        by_class.setdefault(type(o).__name__, []).append(o)
    out: dict[str, Any] = {}
    for cls, group in by_class.items():
        params = [{k: repr(v) for k, v in o.get_params(deep=False).items()} if hasattr(o, "get_params") else {}
                  for o in group]
        differ = sorted({k for p in params for k in p if len({q.get(k) for q in params}) > 1})
        for o, p in zip(group, params):
            name = cls if len(group) == 1 else f"{cls}({', '.join(f'{k}={p.get(k)}' for k in differ)})"
            if name in out:
                one = "strategy" if kind == "strategies" else kind.removesuffix("s")
                raise ValueError(f"two {kind} are the same {cls} with the same parameters: pass each once, "
                                 f"or a mapping {{name: {one}}} to name them yourself")
            out[name] = o
    return out


def _resolve_named(spec: Iterable | Mapping, kind: str, by_name) -> tuple[dict[str, Any], frozenset[str]]:
    """Objects by name, and the names whose object was built here from a short name.

    A mapping keeps its names; in a list, short names are built by ``by_name`` and objects are
    named by :func:`_named`, in the caller's order; a name listed twice is an error."""
    if isinstance(spec, Mapping):
        items = list(spec.items())
    else:
        spec = [spec] if isinstance(spec, str) else list(spec)
        names = [s for s in spec if isinstance(s, str)]
        twice = sorted({s for s in names if names.count(s) > 1})
        if twice:
            raise ValueError(f"{kind} listed more than once: {twice}")
        by_id = {id(o): n for n, o in _named([s for s in spec if not isinstance(s, str)], kind).items()}
        items = [(s, s) if isinstance(s, str) else (by_id[id(s)], s) for s in spec]
    if not items:
        raise ValueError(f"no {kind} to compare")
    out = {name: by_name(s) if isinstance(s, str) else s for name, s in items}
    return out, frozenset(name for name, s in items if isinstance(s, str))


def _strategy_by_name(name: str, X_test: np.ndarray, val_size, groups) -> ValidationSplitter:
    s = get(name, val_size=val_size)
    if "X_target" in s.get_params():
        s.set_params(X_target=X_test)
    if name == "group" and groups is None:
        raise ValueError("the 'group' strategy needs groups: pass groups= (one group label per row of X)")
    return s


def _resolve_strategies(strategies, X_test, val_size, groups) -> tuple[dict[str, Any], frozenset[str]]:
    out, built = _resolve_named(DEFAULT_STRATEGIES if strategies is None else strategies, "strategies",
                         lambda name: _strategy_by_name(name, X_test, val_size, groups))
    for name, s in out.items():
        if not hasattr(s, "split"):
            raise ValueError(f"strategy {name!r} is neither a name nor a splitter with .split()")
    return out, built


def _resolve_models(models, random_state) -> dict[str, Any]:
    zoo = default_models(random_state)

    def by_name(name: str):
        if name not in zoo:
            raise ValueError(f"unknown model {name!r}; choose one of {sorted(zoo)} or pass estimators")
        return zoo[name]

    return _resolve_named(zoo if models is None else models, "models", by_name)[0]


def _unusable(models: Mapping[str, Any], metric: Metric) -> dict[str, str]:
    """Models that cannot be scored with ``metric``, with the reason; known before fitting."""
    if not metric.needs_proba:
        return {}
    return {name: f"{type(m).__name__} has no predict_proba, which metric {metric.name!r} needs"
            for name, m in models.items() if not hasattr(m, "predict_proba")}


def _check_arrays(X, y, X_test, y_test, groups):
    """Each array validated once, here; the stages and the splitters trust the result."""
    X = check_X(X, need_features=True)
    if X_test is None or len(X_test) == 0:
        raise ValueError("the test set is empty: pass X_test with at least one row")
    X_test = check_X(X_test, need_features=True, name="X_test")
    if X_test.shape[1] != X.shape[1]:
        raise ValueError(f"pool and test features differ: X has {X.shape[1]} columns, X_test has {X_test.shape[1]}")
    if y is None:
        raise ValueError("y is required: one label per row of X")
    y = check_labels(y, len(X), "y")
    y_test = check_labels(y_test, len(X_test), "y_test", of="X_test")
    groups = check_labels(groups, len(X), "groups")
    return X, y, X_test, y_test, groups


def plan_comparison(X, y, X_test, y_test=None, *, strategies: Iterable | Mapping | None = None,
                    models: Iterable | Mapping | None = None, metric: str = DEFAULTS["metric"],
                    repeats: int = DEFAULTS["repeats"], random_state: int = DEFAULTS["random_state"],
                    n_jobs: int | None = None, val_size: float = DEFAULTS["val_size"], groups=None,
                    backend: str | None = None, progress: bool = DEFAULTS["progress"]) -> Plan:
    """Stage 1: validate the inputs once and resolve strategies, models and the metric.

    Parameters are those of :func:`compare_strategies`.

    Returns
    -------
    Plan

    Raises
    ------
    ValueError
        On bad input: shapes, NaN, unknown or duplicate names, a bad ``repeats`` or ``val_size``.

    Examples
    --------
    >>> import numpy as np
    >>> p = plan_comparison(np.zeros((10, 2)), np.arange(10) % 2, np.ones((4, 2)), strategies=["tail"],
    ...                     models=["lda"], repeats=2)
    >>> list(p.strategies), list(p.models), p.labeled
    (['tail'], ['lda'], False)
    """
    X, y, X_test, y_test, groups = _check_arrays(X, y, X_test, y_test, groups)
    repeats = check_int(repeats, "repeats")
    random_state = check_int(random_state, "random_state", minimum=0)
    resolve_size(val_size, len(X))  # a bad val_size is the caller's error, not one strategy's failure
    m = get_metric(metric)
    named, prevalidated = _resolve_strategies(strategies, X_test, val_size, groups)
    zoo = _resolve_models(models, random_state)
    classes = np.unique(np.concatenate([y, y_test])) if y_test is not None else np.unique(y)
    return Plan(X, y, X_test, y_test, groups, named, zoo, m, classes, repeats, random_state,
                int(n_jobs) if n_jobs is not None else None, backend, progress, _unusable(zoo, m), prevalidated)
