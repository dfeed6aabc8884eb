"""`make mutation` measures every module of mnist_hf and splitters that has code to mutate: each is in
exactly one row of scripts/maintenance/mutation.sh, with tests that exist."""

from __future__ import annotations

import re

from helpers import REPO

SCRIPT = REPO / "scripts" / "maintenance" / "mutation.sh"


def _expand(text: str) -> str:
    """The script's rows with their `$(printf 'FORMAT ' ARGS)` expansions done, as bash would."""
    text = text.replace("\\\n", " ")
    return re.sub(r"\$\(printf '([^']*)' ([^)]*)\)",
                  lambda m: "".join(m.group(1).replace("%s", arg) for arg in m.group(2).split()), text)


def modules() -> dict[str, tuple[list[str], list[str]]]:
    """{name: (files, tests)} of the MODULES array."""
    block = SCRIPT.read_text(encoding="utf-8").split("MODULES=(", 1)[1].split("\n)\n", 1)[0]
    rows = re.findall(r'^\s*"([^"]+)"', _expand(block), flags=re.MULTILINE)
    found = {}
    for row in rows:
        name, files, tests = row.split("|")
        found[name] = (files.split(), tests.split())
    return found


def _has_code(path) -> bool:
    # mutmut mutates function bodies only: a module of imports and constants has nothing to mutate.
    return re.search(r"^\s*def ", path.read_text(encoding="utf-8"), flags=re.MULTILINE) is not None


def test_every_module_with_code_is_measured_exactly_once():
    listed = [f for files, _ in modules().values() for f in files]
    assert len(listed) == len(set(listed)), "a file in two rows"
    wanted = {str(p.relative_to(REPO)) for room in ("mnist_hf", "splitters") for p in (REPO / room).rglob("*.py")
              if p.name != "__init__.py" and "__pycache__" not in p.parts and _has_code(p)}
    assert wanted - set(listed) == set(), "modules nobody measures"
    assert set(listed) - wanted == set(), "rows naming files without code, or that are gone"


def test_every_row_names_tests_that_exist():
    for name, (_, tests) in modules().items():
        assert tests, name
        for test in tests:
            path, _, function = test.partition("::")
            assert (REPO / path).is_file(), (name, path)
            if function:
                assert re.search(rf"^def {function}\(", (REPO / path).read_text(encoding="utf-8"), re.MULTILINE), \
                    (name, test)


def test_the_expansion_reads_rows_as_bash_does():
    assert _expand("x $(printf 'a/%s.py ' b c)|t") == "x a/b.py a/c.py |t"
    assert modules()["idx"][0] == ["mnist_hf/idx.py"]


def test_every_file_written_to_kill_mutants_judges_a_row():
    # A test file written against a module's survivors that no row runs leaves those survivors alive.
    named = {test.partition("::")[0] for _, tests in modules().values() for test in tests}
    written = {str(p.relative_to(REPO)) for p in (REPO / "tests").glob("test_*.py")
               if p.stem.endswith(("_mutants", "_afresh", "_fast"))}
    assert written - named == set(), "mutant-killing tests no row runs"


def test_the_guide_shows_the_summary_table():
    guide = (REPO / "docs" / "guide" / "reliability.md").read_text(encoding="utf-8")
    copied = guide.split("<!-- mutation table: copied from docs/mutation/summary.md -->\n", 1)[1]
    copied = copied.split("<!-- end mutation table -->", 1)[0].strip()
    summary = (REPO / "docs" / "mutation" / "summary.md").read_text(encoding="utf-8")
    assert copied.startswith("| module |") and copied in summary
