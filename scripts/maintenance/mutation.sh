#!/usr/bin/env bash
# Mutation testing (mutmut 3) of every module of mnist_hf and splitters with code, one group at a
# time, each against its own tests only. Not part of `make test`: 2 to 16 minutes a group on 2 busy
# cores, all sixteen about 90.
#
#   scripts/maintenance/mutation.sh [NAME ...]     # default: every module below; `make mutation` installs mutmut first
#
# Prints mutants / killed / survived / timeout / score per module and writes docs/mutation/summary.md
# and docs/mutation/survivors.md, and copies the table into docs/guide/reliability.md. Work folders:
# mutants/NAME (mutmut browse / show / apply work there).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PY:-.venv/bin/python}
CHILDREN=${MUTATION_CHILDREN:-2}  # parallel mutant runs
# One BLAS thread per mutant run: the CPU-time limit then means what the stats run measured.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1

# NAME | files to mutate | the tests of those files
MODULES=(
  "distances|splitters/distances.py|tests/test_splitters.py tests/test_distances_mutants.py"
  # The engine tests call the metrics too, but take 2 minutes per mutant: the metrics' own tests.
  "metrics|splitters/metrics.py|$(printf 'tests/test_compare.py::%s ' test_metrics_by_hand test_other_metrics test_bad_input \
     test_log_loss_regret_is_oriented_lower_is_better test_summary_follows_from_the_table \
     test_every_measure_comes_with_its_spread_over_repeats \
     test_metric_edges_by_hand test_log_loss_metric_knows_classes_missing_from_y) tests/test_metrics_mutants.py"
  "idx|mnist_hf/idx.py|tests/test_idx.py tests/test_fuzz_idx.py tests/test_family.py::test_xz_idx_reading_and_its_errors"
  "fetch|mnist_hf/fetch.py|tests/test_download.py tests/test_data_dir.py"
  # hub: test_cli.py calls no hub function; the crash tests (a SIGKILL at random moments, a failure at each
  # step, a live export's lock: 6 s a mutant) run in make test only.
  "hub|mnist_hf/card.py mnist_hf/export.py mnist_hf/push.py|tests/test_hub.py $(printf 'tests/test_export_atomic.py::%s ' test_broken_card_is_a_clear_error_and_nothing_changes \
     test_stale_staging_folders_are_removed test_exported_folders_and_files_follow_the_umask \
     test_same_export_twice_keeps_the_version_folder test_an_export_in_the_earlier_flat_layout_is_replaced)"
  # The comparison engine and its stages, judged by tests/test_engine.py: each stage on tiny data in
  # seconds (test_compare.py's planted cases take minutes).
  "compare|$(printf 'splitters/comparison/%s.py ' options plan splits fits diagnostics summary engine result failures)|tests/test_engine.py tests/test_own_predictions.py tests/test_report_html.py $(printf 'tests/test_readme_results.py::%s ' \
     test_a_result_reads_back_what_it_wrote test_reading_results_names_a_bad_file) tests/test_engine_mutants.py"
  # The validation-split strategies: the rules, the splitters built on them, the registry of names.
  "strategies|$(printf 'splitters/%s.py ' base rules ordered sampled dissimilarity registry)|tests/test_splitters.py tests/test_split_rules.py tests/test_strategies_base_mutants.py tests/test_strategies_sampled_mutants.py"
  # Feature pipelines and the datasets bridge (split_dataset).
  "features|splitters/features.py splitters/datasets_io.py|tests/test_splitters.py tests/test_own_predictions.py tests/test_features_mutants.py"
  # What a comparison shows: the report, its plots, the default model zoo.
  "report|$(printf 'splitters/comparison/%s.py ' report plots zoo)|tests/test_report_content.py tests/test_report_html.py tests/test_engine.py tests/test_report_mutants.py"
  "png|mnist_hf/png.py|tests/test_png.py tests/test_png_bite.py tests/test_png_mutants.py tests/test_read.py tests/test_arrays_chunks.py"
  # The read path: Arrow columns to numpy, torch batches, the one-call API.
  "arrays|mnist_hf/arrays.py mnist_hf/torch_data.py mnist_hf/api.py|tests/test_arrays_chunks.py tests/test_read.py tests/test_read_mutants.py tests/test_torch_bite.py tests/test_mnist_hf.py"
  "archives|mnist_hf/archives.py|tests/test_archive_bite.py tests/test_archive_reader.py tests/test_idx.py tests/test_fuzz_idx.py $(printf 'tests/test_family.py::%s ' \
     test_xz_idx_reading_and_its_errors test_emnist_missing_or_corrupt_member_names_the_archive_and_member \
     test_emnist_member_faults_are_one_plain_line_naming_the_member test_a_zip_member_name_that_is_not_utf8_is_an_archive_error)"
  "sources|mnist_hf/sources.py|tests/test_truth.py tests/test_sources_afresh.py tests/test_mnist_hf.py tests/test_data_dir.py $(printf 'tests/test_family.py::%s ' \
     test_emnist_class_names_match_the_published_splits test_every_recorded_checksum_has_the_right_shape \
     test_checksum_shape_check_catches_a_typo)"
  # The mnist-hf command and its one-line faults with their exit codes, judged by fakes of prepare,
  # export and push (test_cli.py prepares real datasets: 10 s a mutant).
  "cli|mnist_hf/__main__.py mnist_hf/faults.py|tests/test_cli_fast.py"
  # The datasets builder: configurations, split generation, Arrow tables.
  "builder|mnist_hf/mnist_hf.py|tests/test_mnist_hf.py tests/test_split_rules.py tests/test_builder_mutants.py"
  # The engine's estimates stage and the label-free estimators it runs.
  "estimates|$(printf 'splitters/estimation/%s.py ' predictions agreement estimators weights intervals reliability stage shipping floor)|tests/test_estimates.py tests/test_estimation_mutants.py tests/test_honesty.py tests/test_own_predictions.py tests/test_registries.py $(printf 'tests/test_engine.py::%s ' \
     test_estimates_are_passed_on_and_a_model_to_ship_is_picked test_a_failing_estimation_is_a_note)"
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
  folder=$("$PY" scripts/maintenance/mutation.py prepare "$name" "$files" "$tests")
  (cd "$folder" && "$MUTMUT" run --max-children "$CHILDREN")
done

"$PY" scripts/maintenance/mutation.py summarize "${names[@]}"
