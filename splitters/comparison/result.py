"""What a comparison found: :class:`ComparisonResult`, its JSON, and reading that JSON back."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .report import markdown, write_report


@dataclass
class ComparisonResult:
    """What :func:`splitters.compare_strategies` found.

    ``table``: one row per strategy, repeat and model (validation and test scores, ``status``
    ``"ok"`` or ``"failed"`` with the reason in ``error``). ``summary``: one row per strategy
    (``mae``, ``bias``, ``spearman``, ``kendall``, ``regret``, each with its spread over repeats
    as ``*_std``; the diagnostics, ``nn_shift`` and ``adv_auc``; ``status``, ``error``).
    ``recommended``: the strategy whose validation predicts test best (by ``mae``), or, without
    test labels, whose label-free diagnostics best match the test data. ``distances``:
    nearest-neighbour distances to the training part, per strategy, for validation and test rows.
    ``notes``: what went wrong along the way. The label-free estimates of each model's target
    score (:mod:`splitters.estimation`): ``estimates``, one row per strategy, repeat, model and
    estimator; ``estimate_summary``, how right each estimator was (with test labels); ``ship``,
    the model to ship on the recommended strategy (validation's pick unless the estimates tell
    the models apart; see :func:`splitters.estimation.model_to_ship`); ``warnings``, what a reader
    must see before any estimate (estimates without a basis, failed predictions, a metric that
    cannot be estimated). ``context``: what was compared, shown at the top of the report
    (``dataset``, ``shift``, ``command`` from the caller; ``pool``, ``validation``, ``test``,
    ``models``, ``strategies``, ``metric``, ``date`` from the run).

    Examples
    --------
    >>> r = ComparisonResult(table=pd.DataFrame(), summary=pd.DataFrame({"strategy": ["tail"], "mae": [0.1]})
    ...                      .set_index("strategy"), recommended="tail", metric="accuracy", labeled=True)
    >>> ComparisonResult.from_dict(json.loads(r.to_json())).summary.equals(r.summary)
    True
    """

    table: pd.DataFrame
    summary: pd.DataFrame
    recommended: str
    metric: str
    labeled: bool
    distances: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)
    estimates: pd.DataFrame | None = None
    default_estimator: str | None = None
    estimate_summary: pd.DataFrame | None = None
    ship: dict[str, Any] | None = None
    warnings: list[str] = field(default_factory=list)
    context: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Everything but the distances, as plain Python (what ``results.json`` holds)."""
        return {
            "metric": self.metric,
            "labeled": self.labeled,
            "recommended": self.recommended,
            "summary": self.summary.reset_index().to_dict(orient="records"),
            "table": self.table.to_dict(orient="records"),
            "notes": self.notes,
            "timings": self.timings,
            "default_estimator": self.default_estimator,
            "ship": self.ship,
            "warnings": self.warnings,
            "context": self.context,
            "estimates": None if self.estimates is None else self.estimates.to_dict(orient="records"),
            "estimate_summary": None if self.estimate_summary is None or self.estimate_summary.empty
            else self.estimate_summary.reset_index().to_dict(orient="records"),
        }

    @classmethod
    def from_dict(cls, d: dict) -> ComparisonResult:
        """The result :meth:`to_dict` describes (without the distances, which it leaves out).

        Parameters
        ----------
        d : dict
            As :meth:`to_dict` gives it, or as ``results.json`` holds it.

        Returns
        -------
        ComparisonResult

        Raises
        ------
        KeyError, TypeError
            When ``d`` lacks a field or has one of the wrong kind.

        Examples
        --------
        >>> ComparisonResult.from_dict({"summary": [{"strategy": "a", "mae": 0.1}], "table": [],
        ...                             "recommended": "a", "metric": "accuracy", "labeled": True}).recommended
        'a'
        """
        estimates, est_summary = d.get("estimates"), d.get("estimate_summary")
        return cls(
            table=pd.DataFrame.from_records(d["table"]), summary=pd.DataFrame.from_records(d["summary"]).set_index(
                "strategy"), recommended=d["recommended"], metric=d["metric"], labeled=d["labeled"],
            notes=d.get("notes", []), timings=d.get("timings", {}),
            estimates=None if estimates is None else pd.DataFrame.from_records(estimates),
            default_estimator=d.get("default_estimator"),
            estimate_summary=None if est_summary is None
            else pd.DataFrame.from_records(est_summary).set_index(["strategy", "estimator"]),
            ship=d.get("ship"), warnings=d.get("warnings", []), context=d.get("context") or {})

    @classmethod
    def read(cls, path: str | Path) -> ComparisonResult:
        """The result from the ``results.json`` that :meth:`write` (or :meth:`to_json`) wrote.

        Parameters
        ----------
        path : str or Path

        Returns
        -------
        ComparisonResult
            Without the distances (the JSON does not hold them).

        Raises
        ------
        ValueError
            When the file cannot be read or is not such a JSON document.

        Examples
        --------
        >>> import tempfile, os
        >>> r = ComparisonResult(table=pd.DataFrame({"model": ["m"]}), summary=pd.DataFrame({"strategy": ["tail"]})
        ...                      .set_index("strategy"), recommended="tail", metric="accuracy", labeled=False)
        >>> path = os.path.join(tempfile.mkdtemp(), "results.json"); _ = r.to_json(path)
        >>> ComparisonResult.read(path).table.equals(r.table)
        True
        """
        try:
            return cls.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))
        except (OSError, json.JSONDecodeError, KeyError, TypeError) as err:
            raise ValueError(f"{path}: not a comparison's results.json ({type(err).__name__}: {err})") from None

    def to_json(self, path: str | None = None) -> str:
        """:meth:`to_dict` as JSON text, also written to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=2, default=float)
        if path:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
        return text

    def to_markdown(self) -> str:
        """The summary as a Markdown table (see :func:`splitters.comparison.report.markdown`)."""
        return markdown(self)

    def write(self, out_dir: str, context: dict[str, Any] | None = None) -> dict[str, str]:
        """Write ``results.json``, ``report.md``, ``report.html`` and the PNG plots to ``out_dir``.

        Parameters
        ----------
        out_dir : str
            Created if missing.
        context : dict, optional
            More of what was compared (``dataset``, ``shift``, ``command``, ...), added to
            :attr:`context` (and kept there) before writing.

        Returns
        -------
        dict of str to str
            Output kind -> path (see :func:`splitters.comparison.report.write_report`).

        Examples
        --------
        >>> import tempfile
        >>> r = ComparisonResult(table=pd.DataFrame(), summary=pd.DataFrame({"strategy": ["tail"], "nn_shift": [0.1],
        ...                      "adv_auc": [0.5]}).set_index("strategy"), recommended="tail", metric="accuracy",
        ...                      labeled=False)
        >>> paths = r.write(tempfile.mkdtemp(), context={"dataset": "mnist"})
        >>> sorted(paths)[:3], r.context
        (['distances', 'html', 'json'], {'dataset': 'mnist'})
        """
        if context:
            self.context = {**self.context, **dict(context)}
        return write_report(self, out_dir)
