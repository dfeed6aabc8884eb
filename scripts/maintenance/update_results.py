"""Regenerate the comparison figures README and the docs show: run the two `make demo` comparisons
into docs/results, record the machine, and rewrite the marked tables of README and of the
comparison guide (docs/guide/comparison.md) from the JSON.

    python scripts/maintenance/update_results.py [--data-dir D] [--out docs/results] [--readme README.md]
        [--render-only | --demo-only]

The figures sit between markers, ``<!-- results:NAME -->`` ... ``<!-- /results -->``; every
block is rendered from docs/results (``results.json`` of each comparison, ``machine.json``,
``spread.json``) with the report's own Markdown functions, so README, the docs and docs/results
cannot disagree (tests/test_readme_results.py checks it). README shows the headline blocks
(:data:`PAGES`), the comparison guide every block. ``--render-only`` rewrites both pages from the
files already there, without running anything; ``--demo-only`` (``make demo``) runs the comparisons
into ``--out`` and stops there. The cross-machine spread quoted next to the
tables is measured separately by scripts/maintenance/results_spread.py (``make results-spread``).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[2]
COMPARE = REPO / "scripts" / "compare_splits.py"
# The comparisons of `make demo`, as extra arguments of compare_splits.py, and how README names them.
DEMOS = {"no_shift": [], "rotate30": ["--shift", "rotate:30"]}
LABELS = {"no_shift": "no shift", "rotate30": "rotate:30"}
# README shows the label-free estimates of the shifted case only (without a shift they equal validation).
ESTIMATES_SHOWN = ("rotate30",)
DATASET = "fashion_mnist"
# The pages holding rendered blocks, relative to the checkout, and which blocks each shows (None: all).
README_BLOCKS = ("rotate30:estimates",)  # README's one headline table: the label-free estimate
PAGES = {"README.md": README_BLOCKS, "docs/guide/comparison.md": None}
BLOCK = re.compile(r"<!-- results:(?P<name>[\w:]+) -->\n(?P<body>.*?)\n?<!-- /results -->", re.S)


# --- reading docs/results ----------------------------------------------------------------------

def markdown_tables(text: str) -> list[str]:
    """The Markdown tables in ``text`` (runs of lines starting with ``|``), in order.

    Examples
    --------
    >>> markdown_tables("intro\\n\\n| a |\\n|---|\\n| 1 |\\n\\nend\\n| b |")
    ['| a |\\n|---|\\n| 1 |', '| b |']
    """
    tables, current = [], []
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append("\n".join(current))
            current = []
    return tables


def _seconds(v: float) -> str:
    return f"{v:.0f} s"


def _spread_text(spread: dict) -> str:
    """README's lines on how far the figures move, from spread.json (scripts/maintenance/results_spread.py)."""
    n = spread["n_fits"]
    lines = [f"- **Elsewhere** ({spread['date']}, `make results-spread`, details in `docs/results/spread.md`): the "
             f"`{LABELS.get(spread['case'], spread['case'])}` comparison re-run here under other BLAS settings, "
             "against a run on the default ones:"]
    for s in spread["settings"]:
        if not s["fits_changed"] and not s["summary_max_abs_diff"]:
            lines.append(f"  - `{s['setting']}` ({s['kernel']} kernels): identical, all {n} fits.")
            continue
        moved = ", ".join(f"{k} {v:.3f}" for k, v in s["summary_max_abs_diff"].items()) or "nothing"
        rec = (f"; recommended: {s['recommended']} instead of {spread['recommended']}"
               if s["recommended"] != spread["recommended"] else "")
        est = s.get("estimate_max_abs_diff_by_estimator", {}).get(spread.get("default_estimator"))
        est = "" if est is None else (f"; the default label-free estimate (`{spread['default_estimator']}`) of a fit "
                                      f"by up to {100 * est:.1f} points")
        lines.append(f"  - `{s['setting']}` ({s['kernel']} kernels): {s['fits_changed']} of {n} fits' scores differ, "
                     f"by up to {s['score_max_abs_diff']:.3f}; the summary moves by up to {moved}{est}{rec}.")
    noise = {k: v for k, v in spread["noise_floor"].items() if v > 0}
    if noise:
        lines.append("- **Reading the tables**: a difference smaller than the machine noise ("
                     + ", ".join(f"{k} {v:.3f}" for k, v in noise.items())
                     + ", the largest moves above) or than the ± spread over repeats says nothing about the strategies.")
    return "\n".join(lines)


def _machine_text(machine: dict, spread: dict | None) -> str:
    """README's lines on the machine that produced the figures, their run times and spread."""
    blas = ", ".join(f"{b['library']} {b['version']} ({b['used_by']})" for b in machine["blas"])
    kernels = "/".join(sorted({str(b["kernel"]) for b in machine["blas"]}))
    threads = "/".join(sorted({str(b["threads"]) for b in machine["blas"]}))
    def run(name: str, r: dict) -> str:
        extra = ([f"{r['cpu_seconds']:.0f} CPU-s"] if "cpu_seconds" in r else []) + (
            [f"load average {r['load_average']:.1f}"] if "load_average" in r else [])
        return f"{LABELS.get(name, name)} {_seconds(r['seconds'])}" + (f" ({'; '.join(extra)})" if extra else "")

    runs = "; ".join(run(name, r) for name, r in machine["runs"].items())
    lines = [f"- **Machine**: {machine['cpu']}, {machine['cores']} cores; Python {machine['python']}, numpy "
             f"{machine['numpy']}, scipy {machine['scipy']}, scikit-learn {machine['sklearn']}; BLAS {blas}, "
             f"{kernels} kernels, {threads} threads ({machine['date']}).",
             f"- **Run time** (wall clock, with the load average of the shared machine at the end, and CPU time, "
             f"which other jobs do not inflate, when recorded): {runs}. Stages of each run in `docs/results/machine.json`.",
             "- **Here** the comparison is deterministic: the same command gives the same figures. On another "
             "processor or BLAS build the features, and then the fits, move a little, because floating-point "
             "results of BLAS kernels differ between processors."]
    return "\n".join(lines + ([_spread_text(spread)] if spread else []))


def render_blocks(results_dir: str | Path) -> dict[str, str]:
    """The marked blocks (README's and docs/guide/comparison.md's), rendered from the files in ``results_dir``.

    Parameters
    ----------
    results_dir : str or Path
        ``docs/results``: one folder per comparison of :data:`DEMOS` with its ``results.json``,
        plus ``machine.json`` and, once measured, ``spread.json``.

    Returns
    -------
    dict of str to str
        Block name (``no_shift:summary``, ``rotate30:summary``, ``rotate30:estimates``,
        ``machine``) -> its Markdown.
    """
    from splitters.comparison import ComparisonResult, estimates_markdown, markdown

    results_dir = Path(results_dir)
    blocks = {}
    for name in DEMOS:
        result = ComparisonResult.read(results_dir / name / "results.json")
        blocks[f"{name}:summary"] = markdown_tables(markdown(result))[0]
        estimates = markdown_tables(estimates_markdown(result))
        if name in ESTIMATES_SHOWN and estimates:
            blocks[f"{name}:estimates"] = estimates[0]
    machine = json.loads((results_dir / "machine.json").read_text(encoding="utf-8"))
    spread_path = results_dir / "spread.json"
    spread = json.loads(spread_path.read_text(encoding="utf-8")) if spread_path.exists() else None
    blocks["machine"] = _machine_text(machine, spread)
    return blocks


def read_blocks(text: str) -> dict[str, str]:
    """The marked blocks of a page (README, a docs page): name -> body (without the marker lines).

    Examples
    --------
    >>> read_blocks("a\\n<!-- results:x -->\\n| 1 |\\n<!-- /results -->\\nb")
    {'x': '| 1 |'}
    """
    return {m["name"]: m["body"] for m in BLOCK.finditer(text)}


def replace_blocks(text: str, blocks: dict[str, str]) -> str:
    """``text`` with each marked block's body replaced by ``blocks[name]``.

    Raises
    ------
    ValueError
        When a block of ``blocks`` has no markers in ``text``, or ``text`` has a marked block
        that ``blocks`` does not render.

    Examples
    --------
    >>> replace_blocks("<!-- results:x -->\\nold\\n<!-- /results -->", {"x": "new"})
    '<!-- results:x -->\\nnew\\n<!-- /results -->'
    """
    present = read_blocks(text)
    missing, unknown = sorted(set(blocks) - set(present)), sorted(set(present) - set(blocks))
    if missing or unknown:
        raise ValueError(f"README markers: missing {missing}, not rendered {unknown} "
                         "(add <!-- results:NAME --> ... <!-- /results --> where each block goes)")
    return BLOCK.sub(lambda m: f"<!-- results:{m['name']} -->\n{blocks[m['name']]}\n<!-- /results -->", text)


# --- running and recording ---------------------------------------------------------------------

def _cpu_model() -> str:
    fields = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    except OSError:
        return platform.processor() or platform.machine()
    name = fields.get("model name", platform.machine())
    if "cpu family" in fields and "model" in fields:
        name += f" (family {fields['cpu family']}, model {fields['model']})"
    return name


def blas_info() -> list[dict[str, Any]]:
    """The BLAS libraries numpy and scipy load here (threadpoolctl): library, version, kernel
    set, threads, and which package ships it."""
    import scipy.linalg  # noqa: F401  (loads scipy's BLAS, so threadpoolctl sees it)
    from threadpoolctl import threadpool_info

    out = []
    for lib in threadpool_info():
        if lib["user_api"] != "blas":
            continue
        used_by = Path(lib["filepath"]).parent.name.removesuffix(".libs")
        out.append({"library": lib["internal_api"], "version": lib["version"], "kernel": lib.get("architecture"),
                    "threads": lib["num_threads"], "used_by": used_by})
    return out


def machine_info() -> dict[str, Any]:
    """CPU, cores, Python, numpy / scipy / scikit-learn versions and BLAS (see :func:`blas_info`)."""
    import scipy
    import sklearn

    return {"cpu": _cpu_model(), "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
            else os.cpu_count(), "python": platform.python_version(), "numpy": np.__version__,
            "scipy": scipy.__version__, "sklearn": sklearn.__version__, "blas": blas_info(),
            "blas_env": {k: v for k, v in sorted(os.environ.items()) if k.startswith(("OPENBLAS_", "OMP_", "MKL_"))}}


def compare_args(name: str, out_dir: str | Path, data_dir: str | None) -> list[str]:
    """compare_splits.py's arguments for the demo comparison ``name`` (as `make demo` runs it)."""
    return ["--dataset", DATASET, *(["--data-dir", data_dir] if data_dir else []), *DEMOS[name],
            "--out", str(out_dir)]


def run_compare(args: list[str], env: dict[str, str] | None = None, log: Path | None = None) -> dict[str, Any]:
    """Run compare_splits.py in a fresh interpreter (BLAS settings are read when it loads),
    echoing its output (or writing it, progress bar included, to ``log``); return the wall time,
    the CPU time (which other jobs on a shared machine do not inflate), the load average at the
    end, and its ``time per stage`` line."""
    t = time.perf_counter()
    with open(log, "w") if log else contextlib.nullcontext() as sink:
        proc = subprocess.Popen([sys.executable, str(COMPARE), *args], stdout=subprocess.PIPE, text=True, env=env,
                                stderr=sink)
        stages = ""
        for line in proc.stdout:
            print(line, end="", file=sink or sys.stdout, flush=True)
            if line.startswith("time per stage:"):
                stages = line.removeprefix("time per stage:").strip()
    # wait4: this child's CPU time, its joblib workers included, even while other runs go on beside it
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"compare_splits.py {' '.join(args)} failed (exit {proc.returncode})"
                         + (f", see {log}" if log else ""))
    return {"args": args, "seconds": round(time.perf_counter() - t, 1),
            "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1), "load_average": round(os.getloadavg()[0], 1),
            "stages": stages}


def page_blocks(results_dir: str | Path, names=None) -> dict[str, str]:
    """The rendered blocks a page shows: those of ``names`` (a page's entry in :data:`PAGES`), or all."""
    blocks = render_blocks(results_dir)
    return blocks if names is None else {k: blocks[k] for k in names}


def update_page(page: Path, results_dir: Path, names=None) -> bool:
    """Rewrite a page's marked blocks (those of ``names``, or all) from ``results_dir``; return whether
    anything changed."""
    text = page.read_text(encoding="utf-8")
    new = replace_blocks(text, page_blocks(results_dir, names))
    if new != text:
        page.write_text(new, encoding="utf-8")
    return new != text


def update_readme(readme: Path, results_dir: Path) -> bool:
    """Rewrite README's marked blocks (:data:`README_BLOCKS`) from ``results_dir``; return whether
    anything changed."""
    return update_page(readme, results_dir, README_BLOCKS)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", help="folder with the IDX files (otherwise: system copy or download)")
    p.add_argument("--out", default=str(REPO / "docs" / "results"))
    p.add_argument("--readme", default=str(REPO / "README.md"))
    p.add_argument("--render-only", action="store_true",
                   help="only rewrite README and docs/guide/comparison.md from the files in --out")
    p.add_argument("--demo-only", action="store_true",
                   help="only run the demo comparisons into --out (`make demo`); README and machine.json untouched")
    args = p.parse_args(argv)
    out, readme = Path(args.out), Path(args.readme)
    t = time.perf_counter()
    if not args.render_only:
        runs = {}
        for name in DEMOS:
            print(f"== {name}", flush=True)
            runs[name] = run_compare(compare_args(name, out / name, args.data_dir))
        if args.demo_only:
            return 0
        machine = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
                   **machine_info(), "runs": runs}
        (out / "machine.json").write_text(json.dumps(machine, indent=2) + "\n", encoding="utf-8")
    for page, names in PAGES.items():
        path = readme if page == "README.md" else REPO / page
        changed = update_page(path, out, names)
        print(f"{path}: {'updated' if changed else 'already up to date'} from {out}", flush=True)
    print(f"took {time.perf_counter() - t:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
