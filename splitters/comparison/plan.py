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
import pandas as pd

from ..base import ValidationSplitter, check_int, check_labels, check_X, resolve_size
from ..metrics import Metric, get_metric
from ..registry import get
from .options import options_of, takes_options
from .zoo import DEFAULT_STRATEGIES, default_models


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


def _labels(values, n_samples: int, name: str, of: str = "X"):
    """``check_labels``, after refusing missing entries: a NaN or None label or group would
    otherwise fail every fit, or merge unrelated rows into one group, without a word."""
    if values is not None:
        missing = int(np.count_nonzero(pd.isna(np.asarray(values, dtype=object))))
        if missing:
            what = "group" if name == "groups" else "label"
            raise ValueError(f"{name} has {missing} missing entries (NaN or None); every row needs a {what}")
    return check_labels(values, n_samples, name, of=of)


def _check_data(X, y, X_test, y_test, groups):
    """Each array validated once, here; the stages and the splitters trust the result."""
    X = check_X(X, need_features=True)
    if X_test is None or len(X_test) == 0:
        raise ValueError("the test set is empty: pass X_test with at least one row")
    X_test = check_X(X_test, need_features=True, name="X_test")
    if X_test.shape[1] != X.shape[1]:
        raise ValueError(f"pool and test features differ: X has {X.shape[1]} columns, X_test has {X_test.shape[1]}")
    if y is None:
        raise ValueError("y is required: one label per row of X")
    y = _labels(y, len(X), "y")
    y_test = _labels(y_test, len(X_test), "y_test", of="X_test")
    groups = _labels(groups, len(X), "groups")
    return X, y, X_test, y_test, groups


@takes_options
def plan_comparison(X, y, X_test, y_test=None, *, groups=None, **options) -> Plan:
    """Stage 1: validate the inputs once and resolve strategies, models and the metric.

    Parameters are those of :func:`splitters.compare_strategies` (``estimate`` is not read here).

    Returns
    -------
    Plan

    Raises
    ------
    ValueError
        On bad input: shapes, NaN, missing labels or groups, unknown or duplicate names, a bad
        ``repeats`` or ``val_size``.
    TypeError
        On an unknown keyword argument.

    Examples
    --------
    >>> import numpy as np
    >>> p = plan_comparison(np.zeros((10, 2)), np.arange(10) % 2, np.ones((4, 2)), strategies=["tail"],
    ...                     models=["lda"], repeats=2)
    >>> list(p.strategies), list(p.models), p.labeled
    (['tail'], ['lda'], False)
    """
    o = options_of("plan_comparison", options)
    X, y, X_test, y_test, groups = _check_data(X, y, X_test, y_test, groups)
    repeats = check_int(o.repeats, "repeats")
    random_state = check_int(o.random_state, "random_state", minimum=0)
    resolve_size(o.val_size, len(X))  # a bad val_size is the caller's error, not one strategy's failure
    m = get_metric(o.metric)
    named, prevalidated = _resolve_strategies(o.strategies, X_test, o.val_size, groups)
    zoo = _resolve_models(o.models, random_state)
    classes = np.unique(np.concatenate([y, y_test])) if y_test is not None else np.unique(y)
    return Plan(X=X, y=y, X_test=X_test, y_test=y_test, groups=groups, strategies=named, models=zoo, metric=m,
                classes=classes, repeats=repeats, random_state=random_state,
                n_jobs=int(o.n_jobs) if o.n_jobs is not None else None, backend=o.backend, progress=o.progress,
                unusable=_unusable(zoo, m), prevalidated=prevalidated)
