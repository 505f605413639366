"""The ``chainrule`` command: train a model on an embedded dataset or a CSV file, then evaluate it,
predict with it and describe it.

    chainrule train                                   # an MLP on digits, offline, in seconds
    chainrule train iris --hidden 16 --epochs 200
    chainrule train houses.csv --target price --out house_model
    chainrule evaluate --model house_model more_houses.csv
    chainrule predict --model house_model new_houses.csv --output predictions.csv --id-column id
    chainrule summary --model house_model
    chainrule export --model house_model              # house_model/model.onnx, for ONNX Runtime
    chainrule datasets

A model folder holds ``model.safetensors`` (the network, and in its metadata everything needed to
use it again: the fitted preprocessing as JSON, the class names, the target column, the split),
``history.csv``, ``loss_curve.png`` and ``report.json``. ``evaluate`` and ``predict`` read the
preprocessing from the metadata and apply it with ``chainrule.cli.tabular.transform``, as training
did. A user error (a missing file, a misspelt column, ...) is one line on stderr and exit code 2.

The package, by what each module holds:

- ``parser``: the commands, their arguments and the examples of ``--help``;
- ``sources``: DATA opened (an embedded dataset or a CSV file) and its rows made ready for
  training or for a trained model;
- ``tabular``: CSV files read, their preprocessing fitted, saved as JSON and applied again;
- ``models``: the network, loss and optimiser of each ``--model``, and a model folder read back;
- ``commands``: one function per command (``cmd_train``, ``cmd_evaluate``, ...);
- ``reports``: what the commands print and write besides the model.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from chainrule.cli.commands import cmd_datasets, cmd_evaluate, cmd_export, cmd_predict, cmd_summary, cmd_train
from chainrule.cli.errors import CLIError
from chainrule.cli.explaining import cmd_explain
from chainrule.cli.parser import build_parser
from chainrule.cli.tabular import DataError
from chainrule.distributed.world import _abort_run

__all__ = ["main", "build_parser", "CLIError"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``chainrule ARGV`` (default: the command line's arguments); the exit code: 0, 2 for a
    user error (one line on stderr), 1 for a file that cannot be written, 130 when interrupted."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    handlers = {
        "train": cmd_train,
        "evaluate": cmd_evaluate,
        "predict": cmd_predict,
        "summary": cmd_summary,
        "export": cmd_export,
        "explain": cmd_explain,
        "datasets": cmd_datasets,
    }
    code = _run(handlers[args.command], args)
    if code:  # under mpiexec the other processes would wait for this one: stop them all
        _abort_run(code, f"stopped: chainrule {args.command} exits with code {code}")
    return code


def _run(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """``handler(args)``'s exit code, a user error reported as one line on stderr."""
    try:
        return handler(args)
    except (CLIError, DataError) as e:
        print(f"chainrule {args.command}: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `chainrule predict ... | head`: the reader has gone, so stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1
    except OSError as e:  # an --out that cannot be written, a full disk: one line, not a traceback
        print(f"chainrule {args.command}: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
