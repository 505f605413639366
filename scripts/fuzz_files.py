"""Run the file fuzzers of tests/reliability/test_fuzz_files.py for longer, by hand.

    python scripts/fuzz_files.py --examples 20000            # both targets
    python scripts/fuzz_files.py --target csv --examples 5000 --seed 7

The properties and strategies are those of the test file (imported from it); here the examples
are random (or seeded with --seed), not derandomized, and their number is yours. A failure
prints hypothesis' minimal failing input: add it to the test file as a regression test.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import traceback

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=2000, help="examples per target (default 2000)")
    parser.add_argument("--target", choices=["model", "csv", "all"], default="all")
    parser.add_argument("--seed", type=int, default=None, help="a seed, to repeat a run")
    args = parser.parse_args(argv)

    sys.path.insert(0, ROOT)
    from hypothesis import HealthCheck, given, seed, settings

    from tests.reliability import test_fuzz_files as fuzz

    options = settings(
        max_examples=args.examples,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=list(HealthCheck),
        print_blob=True,
    )
    targets = {
        "model": (fuzz.mutated_files(), lambda file: fuzz.load_model_bytes(*file)),
        "csv": (fuzz.csv_texts(), fuzz.read_csv_bytes),
    }
    failed = 0
    for name, (strategy, check) in targets.items():
        if args.target not in ("all", name):
            continue
        test = options(given(strategy)(check))
        if args.seed is not None:
            test = seed(args.seed)(test)
        start = time.perf_counter()
        try:
            test()
        except Exception as err:  # report and go on with the next target
            failed += 1
            traceback.print_exception(err, limit=-3)  # with hypothesis' notes: the minimal inputs
            print(f"{name}: FAILED ({type(err).__name__}): {str(err)[:2000]}", file=sys.stderr)
        else:
            print(f"{name}: {args.examples} examples passed in {time.perf_counter() - start:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
