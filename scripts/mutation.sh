#!/usr/bin/env bash
# Mutation testing (mutmut 3) of the modules where a silent bug costs users most, one module at a
# time, each against its own tests only. Not part of `make test`: 5 to 40 minutes a module on 2 busy cores.
#
#   scripts/mutation.sh [NAME ...]     # default: every module below; `make mutation` installs mutmut first
#
# Prints mutants / killed / survived / timeout / score per module and writes docs/mutation/summary.md
# and docs/mutation/survivors.md. Work folders: mutants/NAME (mutmut browse / show / apply work there).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
CHILDREN=${MUTATION_CHILDREN:-2}  # parallel mutant runs
# One BLAS thread per mutant run: the CPU-time limit then means what the stats run measured.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

# NAME | files to mutate | the tests of those files
MODULES=(
  "distances|splitters/distances.py|tests/test_splitters.py"
  # The engine tests call the metrics too, but take 2 minutes per mutant: the metrics' own tests.
  "metrics|splitters/metrics.py|$(printf 'tests/test_compare.py::%s ' test_metrics_by_hand test_other_metrics test_bad_input \
     test_log_loss_regret_is_oriented_lower_is_better test_summary_follows_from_the_table \
     test_every_measure_comes_with_its_spread_over_repeats \
     test_metric_edges_by_hand test_log_loss_metric_knows_classes_missing_from_y)"
  "idx|mnist_hf/idx.py|tests/test_idx.py tests/test_fuzz_idx.py tests/test_family.py::test_xz_idx_reading_and_its_errors"
  "fetch|mnist_hf/fetch.py|tests/test_download.py"
  "hub|mnist_hf/hub.py|tests/test_hub.py tests/test_cli.py tests/test_export_atomic.py"
  # The comparison engine and its stages (estimates.py, still changing, is left out for now).
  "compare|splitters/compare.py splitters/plan.py splitters/splits.py splitters/fits.py splitters/diagnostics.py splitters/summary.py|tests/test_compare.py"
)

names=()
for row in "${MODULES[@]}"; do names+=("${row%%|*}"); done
selected=("$@")
[ ${#selected[@]} -eq 0 ] && selected=("${names[@]}")

"$PY" -c "import mutmut" 2>/dev/null || { echo "mutmut is not installed in $PY: run make mutation" >&2; exit 1; }
MUTMUT="$(cd "$(dirname "$PY")" && pwd)/mutmut"

for name in "${selected[@]}"; do
  row=""
  for candidate in "${MODULES[@]}"; do [ "${candidate%%|*}" = "$name" ] && row=$candidate; done
  [ -n "$row" ] || { echo "unknown module $name (known: ${names[*]})" >&2; exit 2; }
  IFS='|' read -r _ files tests <<<"$row"
  echo "== $name: $files (tests: $tests)"
  folder=$("$PY" scripts/mutation.py prepare "$name" "$files" "$tests")
  (cd "$folder" && "$MUTMUT" run --max-children "$CHILDREN")
done

"$PY" scripts/mutation.py summarize "${names[@]}"
