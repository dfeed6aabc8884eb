"""The two Python steps of scripts/maintenance/mutation.sh (mutmut 3, one module at a time):

    python scripts/maintenance/mutation.py prepare NAME "FILE ..." "TEST ..."   # the work folder mutants/NAME
    python scripts/maintenance/mutation.py summarize NAME ...                   # docs/mutation/summary.md, survivors.md

mutmut reads its settings from ./pyproject.toml and works in ./mutants, so each module gets a folder
of its own (a snapshot of the packages, tests and scripts) whose pyproject.toml is the project's
[tool.pytest.ini_options] and [tool.mutmut] plus that module's files to mutate and tests to run.
The score is mutmut's own: (killed + timeout) / (mutants - skipped). Survivors listed in
docs/mutation/equivalent.md (one line each: `mutant name`: reason) are reported as explained.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10: mutmut depends on the toml package there
    import toml as tomllib

REPO = Path(__file__).resolve().parents[2]
WORK = REPO / "mutants"
DOCS = REPO / "docs" / "mutation"
COPIED = ("mnist_hf", "splitters", "mnist_compare", "tests", "scripts", "docs", "README.md")
DETECTED = ("killed", "timeout")
UNDECIDED = (*DETECTED, "not checked")


def _toml_value(value: object) -> str:
    # JSON strings, numbers, booleans and lists of them are valid TOML values.
    return json.dumps(value)


def prepare(name: str, files: list[str], tests: list[str]) -> Path:
    """Make mutants/NAME: a fresh copy of the code and a pyproject.toml for that module only."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    pytest_ini = project["tool"]["pytest"]["ini_options"]
    mutmut = dict(project["tool"]["mutmut"], only_mutate=files, pytest_add_cli_args_test_selection=tests)
    for path in files + [test.partition("::")[0] for test in tests]:
        if not (REPO / path).is_file():
            sys.exit(f"mutation: {path} (module {name}) does not exist")
    folder = WORK / name
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for sub in COPIED:
        if (REPO / sub).is_file():
            shutil.copy2(REPO / sub, folder / sub)
        else:
            shutil.copytree(REPO / sub, folder / sub, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "_build"))
    lines = ["[tool.pytest.ini_options]"]
    lines += [f"{key} = {_toml_value(value)}" for key, value in pytest_ini.items()]
    lines += ["", "[tool.mutmut]"]
    lines += [f"{key} = {_toml_value(value)}" for key, value in mutmut.items()]
    (folder / "pyproject.toml").write_text("\n".join(lines) + "\n")
    return folder


def _mutmut(folder: Path, *args: str) -> str:
    exe = Path(sys.executable).parent / "mutmut"
    done = subprocess.run([str(exe), *args], cwd=folder, capture_output=True, text=True, check=True)
    return done.stdout


def equivalents() -> dict[str, str]:
    """{mutant name: reason} from docs/mutation/equivalent.md (lines `- `name`: reason`)."""
    path = DOCS / "equivalent.md"
    if not path.exists():
        return {}
    found = re.findall(r"^[-*] `([^`]+)`:?\s*(.*)$", path.read_text(), flags=re.MULTILINE)
    return dict(found)


def module_result(name: str) -> dict | None:
    """Counts and survivors of the last run of module NAME, or None if it was never run."""
    folder = WORK / name
    if not (folder / "mutants" / "mutmut-stats.json").exists():
        return None
    _mutmut(folder, "export-cicd-stats")
    stats = json.loads((folder / "mutants" / "mutmut-cicd-stats.json").read_text())
    statuses = dict(re.findall(r"^\s+(\S+): (.+)$", _mutmut(folder, "results", "--all", "true"), flags=re.MULTILINE))
    # An interrupted run leaves mutants unchecked: score what was checked and say so.
    checked = sum(v for k, v in stats.items() if k not in ("total", "skipped"))
    detected = stats["killed"] + stats["timeout"]
    config = tomllib.loads((folder / "pyproject.toml").read_text())["tool"]["mutmut"]
    return {
        "name": name,
        "files": config["only_mutate"],
        "tests": config["pytest_add_cli_args_test_selection"],
        "stats": stats,
        "score": detected / checked if checked else float("nan"),
        "unchecked": stats["total"] - stats["skipped"] - checked,
        "per_file": per_file(statuses),
        "not_detected": {key: status for key, status in statuses.items() if status not in UNDECIDED},
        "diffs": {key: _mutmut(folder, "show", key) for key, status in statuses.items() if status not in UNDECIDED},
    }


def mutant_file(key: str) -> str:
    """The source file of a mutant: `pkg.mod.x_func__mutmut_3` or `pkg.mod.xǁClassǁmethod__mutmut_3`."""
    return key.rsplit(".", 1)[0].replace(".", "/") + ".py"


def per_file(statuses: dict[str, str]) -> dict[str, dict[str, int]]:
    """{file: {status: count}}: a group of files is scored file by file too, so no file hides in a group."""
    counts: dict[str, dict[str, int]] = {}
    for key, status in statuses.items():
        counts.setdefault(mutant_file(key), {}).setdefault(status, 0)
        counts[mutant_file(key)][status] += 1
    return counts


def _file_rows(name: str, result: dict, explained: dict[str, str]) -> list[str]:
    rows = []
    for path, counts in sorted(result["per_file"].items()):
        total = sum(counts.values())
        checked = total - counts.get("not checked", 0) - counts.get("skipped", 0)
        detected = sum(counts.get(status, 0) for status in DETECTED)
        unexplained = sum(1 for key in result["not_detected"] if mutant_file(key) == path and key not in explained)
        score = f"{detected / checked:.1%}" if checked else "n/a"
        rows.append(f"| `{path}` | {name} | {total} | {detected} | {checked - detected} | {score} | {unexplained} |")
    return rows


GUIDE = REPO / "docs" / "guide" / "reliability.md"
TABLE_START, TABLE_END = "<!-- mutation table: copied from docs/mutation/summary.md -->", "<!-- end mutation table -->"


def copy_table(rows: list[str]) -> None:
    """Put the module table into the reliability guide, between its two markers (never by hand)."""
    text = GUIDE.read_text(encoding="utf-8")
    head, _, rest = text.partition(TABLE_START)
    _, _, tail = rest.partition(TABLE_END)
    GUIDE.write_text(f"{head}{TABLE_START}\n" + "\n".join(rows) + f"\n{TABLE_END}{tail}", encoding="utf-8")


def summarize(names: list[str]) -> None:
    """Print the per-module table and write docs/mutation/summary.md and survivors.md."""
    explained = equivalents()
    results = [module_result(name) for name in names]
    header = "| module | files | mutants | killed | survived | timeout | no tests | score | survivors not listed as equivalent |"
    rows = [header, "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    survivors = ["# Mutants not killed", "",
                 "Written by `scripts/maintenance/mutation.sh` (`make mutation`); the reason for each",
                 "equivalent one is in [equivalent.md](equivalent.md).", ""]
    print(f"{'module':<12} {'mutants':>7} {'killed':>7} {'survived':>8} {'timeout':>7} {'score':>7}")
    for name, result in zip(names, results):
        if result is None:
            rows.append(f"| {name} | | | | | | | not run | |")
            print(f"{name:<12} not run")
            continue
        s = result["stats"]
        unexplained = [key for key in result["not_detected"] if key not in explained]
        partial = f" (partial: {result['unchecked']} of {s['total']} not checked)" if result["unchecked"] else ""
        files = ", ".join(f"`{f}`" for f in result["files"])
        rows.append(f"| {name} | {files} | {s['total']} | {s['killed']} | {s['survived']} | {s['timeout']} | "
                    f"{s['no_tests']} | {result['score']:.1%}{partial} | {len(unexplained)} |")
        score = f"{result['score']:>7.1%}{partial}"
        print(f"{name:<12} {s['total']:>7} {s['killed']:>7} {s['survived']:>8} {s['timeout']:>7} {score}")
        survivors += [f"## {name}", "", "Tests: " + " ".join(f"`{t}`" for t in result["tests"]), ""]
        for key, status in result["not_detected"].items():
            note = f"equivalent: {explained[key]}" if key in explained else "NOT EXPLAINED"
            survivors += [f"### `{key}` ({status}; {note})", "", "```diff", result["diffs"][key].strip(), "```", ""]
        if not result["not_detected"]:
            survivors += ["Every mutant killed.", ""]
    by_file = ["| file | module | mutants | detected | not detected | score | not explained |",
               "|---|---|---:|---:|---:|---:|---:|"]
    for name, result in zip(names, results):
        if result is not None:
            by_file += _file_rows(name, result, explained)
    DOCS.mkdir(parents=True, exist_ok=True)
    summary = ["# Mutation score", "",
               "Written by `scripts/maintenance/mutation.sh` (`make mutation`, mutmut 3). Score = (killed + timeout) / mutants.",
               "Survivors with their diffs: [survivors.md](survivors.md); equivalent ones with the reason:",
               "[equivalent.md](equivalent.md).",
               "", *rows, "", "## File by file", "",
               "A module of several files is scored file by file too, so that no file hides in its group.", "",
               *by_file, ""]
    (DOCS / "summary.md").write_text("\n".join(summary))
    (DOCS / "survivors.md").write_text("\n".join(survivors))
    copy_table(rows)
    print(f"wrote {DOCS / 'summary.md'} and {DOCS / 'survivors.md'}")


def main(argv: list[str]) -> None:
    if len(argv) == 4 and argv[0] == "prepare":
        print(prepare(argv[1], argv[2].split(), argv[3].split()))
    elif argv and argv[0] == "summarize":
        summarize(argv[1:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv[1:])
