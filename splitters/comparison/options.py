"""The comparison's options, declared once: :class:`ComparisonOptions`.

:func:`splitters.compare_strategies` and :func:`plan_comparison` take them as keyword arguments
(their signatures are made from the fields by :func:`takes_options`); the comparison script reads
its defaults from :data:`DEFAULTS`.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ComparisonOptions:
    """How a comparison runs. Each field is a keyword argument of :func:`splitters.compare_strategies`
    (see its docstring for what each means).

    Examples
    --------
    >>> ComparisonOptions(repeats=1).repeats, ComparisonOptions().metric
    (1, 'accuracy')
    """

    strategies: Iterable | Mapping | None = None
    models: Iterable | Mapping | None = None
    metric: str = "accuracy"
    repeats: int = 3
    random_state: int = 0
    n_jobs: int | None = None
    val_size: float = 0.1
    backend: str | None = None
    progress: bool = True
    estimate: bool = True
    context: Mapping[str, Any] | None = None


DEFAULTS: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(ComparisonOptions)}


def options_of(caller: str, kwargs: Mapping[str, Any]) -> ComparisonOptions:
    """``kwargs`` as :class:`ComparisonOptions`; an unknown name is the caller's TypeError.

    Parameters
    ----------
    caller : str
        The function's name, for the error message.
    kwargs : mapping
        Keyword arguments, each a field of :class:`ComparisonOptions`.

    Returns
    -------
    ComparisonOptions

    Raises
    ------
    TypeError
        On a name that is not an option, as Python says it for any function.

    Examples
    --------
    >>> options_of("f", {"repeats": 2}).repeats
    2
    >>> options_of("f", {"repeat": 2})
    Traceback (most recent call last):
    ...
    TypeError: f() got an unexpected keyword argument 'repeat'
    """
    for name in kwargs:
        if name not in DEFAULTS:
            raise TypeError(f"{caller}() got an unexpected keyword argument {name!r}")
    return ComparisonOptions(**kwargs)


def takes_options(fn: Callable) -> Callable:
    """Give ``fn(..., **options)`` a signature that lists every option with its default.

    Parameters
    ----------
    fn : callable
        A function whose last parameter is ``**options``.

    Returns
    -------
    callable
        ``fn`` itself, with ``__signature__`` set (``help`` and ``inspect`` show the options).

    Examples
    --------
    >>> @takes_options
    ... def f(x, **options):
    ...     return options_of("f", options).repeats
    >>> str(inspect.signature(f)).startswith("(x, *, strategies: 'Iterable | Mapping | None' = None,")
    True
    """
    sig = inspect.signature(fn)
    params = [p for p in sig.parameters.values() if p.kind is not inspect.Parameter.VAR_KEYWORD]
    params += [inspect.Parameter(f.name, inspect.Parameter.KEYWORD_ONLY, default=f.default, annotation=f.type)
               for f in dataclasses.fields(ComparisonOptions)]
    fn.__signature__ = sig.replace(parameters=params)
    return fn
