"""Importing a package costs only what it uses: ``splitters`` loads its modules on first use.

Each import check runs in a fresh interpreter, since this test process has already imported
everything."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import splitters

# What the comparison engine needs and neither the dataset builder nor the split rules do.
ENGINE = ("sklearn", "scipy", "joblib", "matplotlib", "splitters.comparison", "splitters.estimation", "splitters.base")


# What ``splitters`` exported when its __init__ imported every module.
PUBLIC = ["DEFAULT_STRATEGIES", "SCORE_METRICS", "STRATEGIES", "ClusterSplit", "ComparisonResult", "Flatten", "GroupSplit",
          "HeadSplit", "MaxMinSplit", "Metric", "RandomSplit", "SplitSizeWarning", "TailSplit", "TargetMatchedSplit",
          "ValidationSplitter", "compare_strategies", "default_models",
          "estimate_from_predictions", "get", "get_metric", "image_features",
          "resolve_size", "split_dataset"]


def _modules_after(statement: str) -> set[str]:
    """The names in ``sys.modules`` after ``statement``, in a new interpreter."""
    code = f"import json, sys\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return set(json.loads(out.stdout.splitlines()[-1]))


def test_import_mnist_hf_leaves_the_comparison_engine_unloaded():
    loaded = _modules_after("import mnist_hf")
    assert "splitters.rules" in loaded  # the builder does use the split rules
    # pandas is not checked: datasets itself imports it
    assert not loaded & set(ENGINE), sorted(loaded & set(ENGINE))


@pytest.mark.parametrize("statement", ["import splitters.rules", "import splitters"])
def test_split_rules_load_no_heavy_module(statement):
    loaded = _modules_after(statement)
    heavy = {"pandas", "pyarrow", "datasets", *ENGINE}
    assert not loaded & heavy, sorted(loaded & heavy)


def test_a_submodule_is_an_attribute_after_a_bare_import():
    loaded = _modules_after("import splitters\n"
                            "assert splitters.comparison.compare_strategies is splitters.compare_strategies")
    assert "splitters.comparison" in loaded


def test_the_public_names_are_all_there():
    assert sorted(splitters.__all__) == sorted(PUBLIC)
    for name in PUBLIC:
        assert getattr(splitters, name) is not None
    # dir() lists them before any has been loaded
    code = "import json, splitters\nprint(json.dumps(dir(splitters)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert set(PUBLIC) <= set(json.loads(out.stdout))


def test_star_import_gives_every_public_name():
    namespace: dict = {}
    exec("from splitters import *", namespace)
    assert set(PUBLIC) <= set(namespace)


def test_an_unknown_name_is_an_attribute_error():
    with pytest.raises(AttributeError, match="module 'splitters' has no attribute 'compare_strategy'"):
        splitters.compare_strategy  # noqa: B018


# Modules that moved, and where their names live now: the old import path still works, with a warning.
MOVED = {"estimates": ("splitters.estimation", "doc"), "compare": ("splitters.comparison", "compare_strategies"),
         "plan": ("splitters.comparison", "plan_comparison"), "report": ("splitters.comparison.report", "markdown")}


@pytest.mark.parametrize("old", sorted(MOVED))
def test_a_moved_module_still_imports_and_says_where_it_went(old):
    new, name = MOVED[old]
    code = (f"import warnings\nwarnings.simplefilter('error', DeprecationWarning)\n"
            f"try:\n    import splitters.{old}\nexcept DeprecationWarning as w:\n    print(w)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.strip() == f"splitters.{old} is deprecated: import from {new}"
    code = (f"import warnings\nwarnings.simplefilter('ignore')\nimport splitters.{old} as m, {new} as n\n"
            f"assert m.{name} is n.{name}")
    subprocess.run([sys.executable, "-c", code], timeout=300, check=True)


def test_dir_shows_the_public_names_and_the_submodules_only():
    code = "import json, splitters\nprint(json.dumps(dir(splitters)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    shown = json.loads(out.stdout)
    modules = {p.stem for p in Path(splitters.__file__).parent.iterdir()
               if (p.suffix == ".py" or (p / "__init__.py").exists()) and not p.name.startswith("_")}
    assert shown == sorted(set(PUBLIC) | (modules - set(MOVED)))
    assert {"comparison", "estimation", "rules", "base"} <= set(shown)
    assert not {"Any", "annotations", "importlib", "pkgutil"} & set(shown)


def test_every_alias_module_is_a_moved_one():
    # each alias is checked to warn (above), and only the aliases are left out of dir()
    assert set(MOVED) == splitters._DEPRECATED


# The rooms of docs/architecture.md and what each may import from this repository.
STRATEGY_MODULES = {f"splitters.{m}" for m in ("rules", "base", "ordered", "sampled", "dissimilarity", "distances",
                                               "registry", "features", "datasets_io")}
ROOMS = {
    "strategies": (STRATEGY_MODULES, STRATEGY_MODULES),
    "metrics": ({"splitters.metrics"}, set()),
    "estimation": ("splitters.estimation", {"splitters.estimation", "splitters.metrics"}),
    "comparison": ("splitters.comparison", {"splitters.comparison", "splitters.estimation", "splitters.metrics",
                                            *STRATEGY_MODULES}),
    "mnist_hf": ("mnist_hf", {"mnist_hf", "splitters.rules"}),
    # the package that joins the two (the compare-splits command) may import both
    "mnist_compare": ("mnist_compare", {"mnist_compare", "mnist_hf", "splitters"}),
}
REPO_ROOT = Path(splitters.__file__).resolve().parents[1]


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO_ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """The modules of this repository ``path`` imports (relative imports resolved)."""
    import ast

    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            if node.module:
                found.add(".".join([*base, node.module]) if node.level else node.module)
            else:
                found |= {".".join([*base, a.name]) for a in node.names}
    return {m for m in found if m.split(".")[0] in ("splitters", "mnist_hf", "mnist_compare")}


def _within(module: str, allowed) -> bool:
    allowed = {allowed} if isinstance(allowed, str) else allowed
    return any(module == a or module.startswith(a + ".") for a in allowed)


@pytest.mark.parametrize("room", sorted(ROOMS))
def test_each_room_imports_only_what_it_may(room):
    members, allowed = ROOMS[room]
    files = [p for p in sorted(REPO_ROOT.glob("*/**/*.py")) if _within(_module_name(p), members)]
    assert files, room
    wrong = {_module_name(p): sorted(m for m in _imports(p) if not _within(m, allowed)) for p in files}
    assert not {k: v for k, v in wrong.items() if v}, wrong


def test_nothing_under_scripts_imports_from_tests():
    from_tests = {p.stem for p in (REPO_ROOT / "tests").glob("*.py")}
    for path in sorted((REPO_ROOT / "scripts").rglob("*.py")):
        on_path = [line for line in path.read_text(encoding="utf-8").splitlines() if "sys.path" in line]
        assert not [line for line in on_path if "tests" in line], f"{path} puts tests/ on its path"
        imported = {m.split(".")[0] for m in _all_imports(path)}
        assert not imported & from_tests, f"{path} imports {sorted(imported & from_tests)} from tests/"


def _all_imports(path: Path) -> set[str]:
    import ast

    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and not node.level:
            found.add(node.module)
    return found
