"""Fuzz the IDX reader for a time budget: the generator and judge of fuzzing.py, beside it (the same
cases the test suite runs a few thousand of), on synthetic files and, when present, the real ones.

    python scripts/maintenance/fuzz_idx.py [--seconds 300] [--seed 1] [--data-dir ../shared/data] [--out DIR]
    python scripts/maintenance/fuzz_idx.py --seed 1 --case 4711      # rerun one case, write its file

Prints the cases tried, the outcomes by kind (arrays returned, headers returned, each kind of
IDXFormatError) and every failure with its reproducer (seed and case index); each failing file is
written to --out. Exit status 1 when anything failed. A case that hangs is ended by a watchdog;
--out/case.txt and --out/case[.gz] then hold it.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from fuzzing import Case, Report, check_case, make_case, real_bases, run_cases, synthetic_bases

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"  # beside the checkout, as the benchmarks'


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=300, help="time budget (default 300)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data-dir", type=Path, default=SHARED_DATA, help="the real files (skipped when absent)")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "mnist_hf-fuzz",
                        help="where failing files are written (default: mnist_hf-fuzz in the temp folder)")
    parser.add_argument("--case", type=int, help="run only this case index, and write its file")
    args = parser.parse_args(argv)

    bases = synthetic_bases()
    if (args.data_dir / "fashion-mnist").is_dir() or (args.data_dir / "mnist").is_dir():
        bases += real_bases(args.data_dir)
    else:
        print(f"no real files under {args.data_dir}: synthetic files only")
    args.out.mkdir(parents=True, exist_ok=True)

    def keep(case: Case, report: Report) -> None:
        path = args.out / f"seed{case.seed}-case{case.index}{case.suffix}"
        path.write_bytes(case.data)
        print(f"FAIL {case.label}\n  file: {path}\n"
              f"  rerun: python scripts/maintenance/fuzz_idx.py --seed {case.seed} --case {case.index}")
        for failure in report.failures:
            print("  " + failure.split(": ", 1)[1][:400])

    if args.case is not None:
        return _rerun(make_case(bases, args.seed, args.case), args.out)

    start = time.monotonic()
    deadline = start + args.seconds
    tried, tallies, failures = 0, {}, []
    batch = 1000
    while time.monotonic() < deadline:
        t, counts, fails = run_cases(bases, args.seed, range(tried, tried + batch), args.out, deadline=deadline,
                                     on_failure=keep)
        tried += t
        failures += fails
        for kind, n in counts.items():
            tallies[kind] = tallies.get(kind, 0) + n
        print(f"[{time.monotonic() - start:6.0f} s] {tried:,} cases, {len(failures)} failures", flush=True)
    print(f"\nseed {args.seed}: {tried:,} cases ({len(bases)} bases) in {time.monotonic() - start:.0f} s, "
          f"{len(failures)} failures")
    print("outcomes (3 readers per case: read_idx, read_idx_header, iter_idx):")
    for kind, n in sorted(tallies.items(), key=lambda kv: -kv[1]):
        print(f"  {n:8,}  {kind}")
    return 1 if failures else 0


def _rerun(case: Case, out: Path) -> int:
    """One case again, its file written, its outcomes printed: 1 when it fails."""
    path = out / f"seed{case.seed}-case{case.index}{case.suffix}"
    path.write_bytes(case.data)
    print(f"{case.label}\n  {len(case.data):,} bytes written to {path}")
    tracemalloc.start()
    report = check_case(case, out / f"case{case.suffix}")
    print("  outcomes:", ", ".join(report.outcomes))
    for failure in report.failures:
        print("  FAIL", failure.split(": ", 1)[1])
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
