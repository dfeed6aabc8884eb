"""How much do README's comparison figures move on another machine? Re-run one `make demo`
comparison under other BLAS settings and compare every fit's scores and the summary with a
reference run on the default settings.

    python scripts/maintenance/results_spread.py [--data-dir D] [--case rotate30] [--out docs/results]
        [--setting VAR=VALUE[,VAR=VALUE] ...] [--work DIR] [--jobs N]

Floating-point results of BLAS kernels differ between processors (vector width, blocking, thread
split of the sums), so the PCA features, and then the fits, move. We cannot run another processor,
but OpenBLAS picks its kernels at run time and lets ``OPENBLAS_CORETYPE`` force another set
(Haswell: AVX2; SandyBridge: AVX; Prescott: SSE3), the way another CPU would, and
``OPENBLAS_NUM_THREADS`` changes how sums are split. The default settings are run twice: the
second run checks that the comparison is deterministic on one machine.

Writes ``spread.json`` (what README quotes, through scripts/maintenance/update_results.py) and ``spread.md``
to ``--out``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from update_results import DEMOS, REPO, compare_args, machine_info, run_compare

KEY = ["strategy", "repeat", "model"]
SCORES = ["val_score", "test_score"]
SUMMARY = ["mae", "bias", "spearman", "kendall", "regret"]
SETTINGS = {
    "default, again": {},
    "OPENBLAS_NUM_THREADS=1": {"OPENBLAS_NUM_THREADS": "1"},
    "OPENBLAS_CORETYPE=Haswell": {"OPENBLAS_CORETYPE": "Haswell"},
    "OPENBLAS_CORETYPE=SandyBridge": {"OPENBLAS_CORETYPE": "SandyBridge"},
    "OPENBLAS_CORETYPE=Prescott": {"OPENBLAS_CORETYPE": "Prescott"},
}
_PROBE = ("import json, numpy, scipy.linalg; from threadpoolctl import threadpool_info; "
          "print(json.dumps(sorted({str(i.get('architecture')) for i in threadpool_info() if i['user_api'] == 'blas'})))")


def kernel(env: dict[str, str]) -> str:
    """The OpenBLAS kernel set numpy and scipy load under ``env`` (threadpoolctl, in a fresh
    interpreter), e.g. ``SkylakeX``; several joined with ``/`` when they differ."""
    out = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, check=True)
    return "/".join(json.loads(out.stdout))


def compare_runs(ref: dict, other: dict) -> dict:
    """Per-fit and summary differences between two results.json documents.

    Parameters
    ----------
    ref, other : dict
        Parsed ``results.json`` of the same comparison.

    Returns
    -------
    dict
        ``fits_changed`` (fits whose validation or test score differs), ``score_max_abs_diff``,
        ``changed_by_model`` (model -> fits changed), ``summary_max_abs_diff`` (measure -> largest
        difference over strategies), ``summary_diff`` (strategy -> measure -> difference),
        ``estimate_max_abs_diff`` (the label-free estimates), ``recommended``.

    Examples
    --------
    >>> row = {"strategy": "s", "repeat": 0, "model": "m", "val_score": 0.5, "test_score": 0.4}
    >>> summ = [{"strategy": "s", "mae": 0.1, "bias": 0.1, "spearman": 1.0, "kendall": 1.0, "regret": 0.0}]
    >>> a = {"table": [row], "summary": summ, "recommended": "s"}
    >>> b = {"table": [{**row, "test_score": 0.45}], "summary": summ, "recommended": "s"}
    >>> d = compare_runs(a, b)
    >>> d["fits_changed"], round(d["score_max_abs_diff"], 2)
    (1, 0.05)
    """
    a = pd.DataFrame(ref["table"]).set_index(KEY)[SCORES]
    b = pd.DataFrame(other["table"]).set_index(KEY)[SCORES].reindex(a.index)
    diff = (a - b).abs().max(axis=1)
    changed = diff[diff > 0]
    sa = pd.DataFrame(ref["summary"]).set_index("strategy")[SUMMARY]
    sb = pd.DataFrame(other["summary"]).set_index("strategy")[SUMMARY].reindex(sa.index)
    sdiff = sb - sa
    out = {
        "fits_changed": len(changed),
        "score_max_abs_diff": float(diff.max()) if len(diff) else 0.0,
        "changed_by_model": {m: int(n) for m, n in changed.groupby(level="model").size().items()},
        "summary_max_abs_diff": {c: float(sdiff[c].abs().max()) for c in SUMMARY if sdiff[c].abs().max() > 0},
        "summary_diff": {s: {c: float(v) for c, v in row.items()} for s, row in sdiff.iterrows()},
        "recommended": other["recommended"],
    }
    if ref.get("estimates") and other.get("estimates"):
        key = KEY + ["estimator"]
        ea = pd.DataFrame(ref["estimates"]).set_index(key)["estimate"]
        eb = pd.DataFrame(other["estimates"]).set_index(key)["estimate"].reindex(ea.index)
        ediff = (ea - eb).abs()
        out["estimate_max_abs_diff"] = float(ediff.max())
        out["estimate_max_abs_diff_by_estimator"] = {e: float(v) for e, v in ediff.groupby(level="estimator").max().items()}
    return out


def spread_markdown(spread: dict) -> str:
    """spread.md: one row per setting, then the summary differences per strategy."""
    lines = [f"# Cross-setting spread of the `{spread['case']}` comparison", "",
             f"{spread['date']}, on {spread['machine']}. Reference: default settings ({spread['reference_kernel']} "
             f"kernels). {spread['n_fits']} fits (strategy x repeat x model). Differences are other - reference.", "",
             "| setting | kernels | seconds | fits changed | max abs score diff | max abs diff: mae | spearman | "
             "kendall | regret | max abs estimate diff | recommended |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for s in spread["settings"]:
        m = s["summary_max_abs_diff"]
        lines.append(f"| `{s['setting']}` | {s['kernel']} | {s['seconds']:.0f} | {s['fits_changed']} | "
                     f"{s['score_max_abs_diff']:.4f} | " + " | ".join(f"{m.get(c, 0.0):.4f}" for c in
                                                                     ("mae", "spearman", "kendall", "regret"))
                     + f" | {s.get('estimate_max_abs_diff', float('nan')):.4f} | {s['recommended']} |")
    for s in spread["settings"]:
        if not s["fits_changed"]:
            continue
        by_estimator = s.get("estimate_max_abs_diff_by_estimator", {})
        lines += ["", f"## `{s['setting']}`", "",
                  "Fits changed per model: " + ", ".join(f"{m} {n}" for m, n in s["changed_by_model"].items()), "",
                  "Largest change of a label-free estimate, per estimator: "
                  + ", ".join(f"{e} {v:.4f}" for e, v in by_estimator.items()), "",
                  "| strategy | " + " | ".join(SUMMARY) + " |", "|---|" + "---:|" * len(SUMMARY)]
        for name, row in s["summary_diff"].items():
            lines.append(f"| {name} | " + " | ".join(f"{row[c]:+.4f}" for c in SUMMARY) + " |")
    return "\n".join(lines) + "\n"


def parse_args(argv=None) -> tuple[argparse.Namespace, dict[str, dict[str, str]]]:
    """The arguments, and the settings to compare: name -> the environment variables it sets."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", help="folder with the IDX files (otherwise: system copy or download)")
    p.add_argument("--case", default="rotate30", choices=sorted(DEMOS))
    p.add_argument("--out", default=str(REPO / "docs" / "results"))
    p.add_argument("--work", default=None, help="where the runs' outputs go (default: a temporary folder)")
    p.add_argument("--jobs", type=int, default=1, help="comparisons run at once (each logs to --work)")
    p.add_argument("--setting", action="append", metavar="VAR=VALUE[,VAR=VALUE]",
                   help="replace the default settings, e.g. --setting OPENBLAS_NUM_THREADS=1 "
                        "(a name without '=' re-runs the default settings)")
    args = p.parse_args(argv)
    settings = SETTINGS
    if args.setting:
        settings = {}
        for spec in args.setting:
            pairs = [a.split("=", 1) for a in spec.split(",")] if "=" in spec else []
            if any(len(pair) != 2 or not pair[0] for pair in pairs):
                p.error(f"--setting {spec!r}: expected VAR=VALUE[,VAR=VALUE], or a bare name for the default settings")
            settings[spec] = dict(pairs)
    return args, settings


def main(argv=None) -> int:
    args, settings = parse_args(argv)
    work = Path(args.work or tempfile.mkdtemp(prefix="results_spread_"))
    work.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    base_env = {k: v for k, v in os.environ.items() if not k.startswith("OPENBLAS_")}
    runs = {"reference": base_env, **{f"setting{i}": {**base_env, **extra} for i, extra in enumerate(settings.values())}}
    labels = {"reference": "default settings", **{f"setting{i}": name for i, name in enumerate(settings)}}

    def run(key: str) -> dict:
        print(f"== {labels[key]} (log: {work / key}.log)", flush=True)
        return run_compare(compare_args(args.case, work / key, args.data_dir), runs[key], log=work / f"{key}.log")

    with ThreadPoolExecutor(max(1, args.jobs)) as pool:
        done = dict(zip(runs, pool.map(run, runs)))
    ref = json.loads((work / "reference" / "results.json").read_text())
    machine = machine_info()
    rows = []
    for i, (name, extra) in enumerate(settings.items()):
        other = json.loads((work / f"setting{i}" / "results.json").read_text())
        rows.append({"setting": name, "env": extra, "kernel": kernel(runs[f"setting{i}"]),
                     "seconds": done[f"setting{i}"]["seconds"], **compare_runs(ref, other)})
    # per measure, the largest move over all settings: the size of a difference that means nothing
    noise = {c: max((s["summary_max_abs_diff"].get(c, 0.0) for s in rows), default=0.0) for c in SUMMARY}
    spread = {
        "case": args.case, "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
        "machine": f"{machine['cpu']}, {machine['cores']} cores",
        "reference_kernel": kernel(base_env), "n_fits": len(ref["table"]), "recommended": ref["recommended"],
        "default_estimator": ref.get("default_estimator"),
        "noise_floor": noise, "settings": rows,
    }
    out = Path(args.out)
    (out / "spread.json").write_text(json.dumps(spread, indent=2) + "\n", encoding="utf-8")
    (out / "spread.md").write_text(spread_markdown(spread), encoding="utf-8")
    print(spread_markdown(spread))
    print(f"wrote {out / 'spread.json'}, {out / 'spread.md'}; took {time.perf_counter() - t:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
