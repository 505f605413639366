"""The command line of ``chainrule``: its commands, their arguments and the help text's examples."""

from __future__ import annotations

import argparse
from collections.abc import Callable

import chainrule as cr
from chainrule.cli.explaining import METHODS
from chainrule.cli.models import MODELS


def _hidden(text: str) -> list[int]:
    """The sizes of --hidden: "64,32" -> [64, 32]."""
    try:
        sizes = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--hidden must be comma-separated integers like 64,32, got {text!r}"
        ) from None
    if any(s <= 0 for s in sizes):
        raise argparse.ArgumentTypeError(f"--hidden sizes must be positive, got {text!r}")
    return sizes


def _names(text: str) -> list[str]:
    """The column names of a comma-separated list: "id, name" -> ["id", "name"]."""
    return [s.strip() for s in text.split(",") if s.strip()]


def _fraction(low_inclusive: bool) -> Callable[[str], float]:
    """An argparse type for a fraction in [0, 1) (``low_inclusive``) or (0, 1)."""

    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not ((0.0 <= value if low_inclusive else 0.0 < value) and value < 1.0):
            raise argparse.ArgumentTypeError(f"must be in {'[0, 1)' if low_inclusive else '(0, 1)'}, got {text}")
        return value

    return parse


EXAMPLES = {
    None: """examples:
  chainrule train                               # an MLP on the digits, offline
  chainrule train iris --hidden 16 --epochs 200
  chainrule train houses.csv --target price --out house_model
  chainrule evaluate --model house_model more_houses.csv
  chainrule predict --model house_model new.csv --output predictions.csv --id-column id
  chainrule summary --model house_model
  chainrule export --model house_model --output house_model.onnx
  chainrule explain --model house_model new_houses.csv --method ig --out why
  chainrule datasets""",
    "train": """DATA is an embedded dataset (see `chainrule datasets`) or a CSV file with a header row.
In a CSV file, numeric columns are imputed with their median and standardised, other columns
imputed with their most frequent value and one-hot encoded; rows whose target is missing are
left out. The data is split into train / validation / test sets; the preprocessing is fitted on
the training rows only and saved (as JSON) with the model.

examples:
  chainrule train
  chainrule train iris --hidden 16 --epochs 200
  chainrule train wine --model logistic --optimizer adam --lr 0.01
  chainrule train digits --model cnn --epochs 20
  chainrule train houses.csv --target price --hidden 64,32 --early-stopping --out house_model
  chainrule train clicks.csv --target clicked --task classification --drop user_id --json""",
    "evaluate": """Prints the loss and metrics of a trained model on labelled data (and a confusion
matrix for classification). For the embedded dataset a model was trained on, the held-out test
split is used; a CSV file is used whole.

examples:
  chainrule evaluate --model runs/latest digits
  chainrule evaluate --model house_model more_houses.csv
  chainrule evaluate --model house_model more_houses.csv --json""",
    "predict": """Writes one row per input row: the prediction (the original class label, or a value
in the target's units), then for a model with probabilities one column per class,
proba_<class>. Without --output the CSV goes to stdout. Categories not seen in training are
ignored (their one-hot columns are 0); missing values are imputed as in training. Text cells
a spreadsheet would run as formulas (starting with =, +, -, @) get a leading ' (numbers are kept).

examples:
  chainrule predict --model house_model new_houses.csv --output predictions.csv
  chainrule predict --model house_model new_houses.csv --id-column id > predictions.csv
  chainrule predict --model runs/latest digits --output digits_test.csv""",
    "explain": """Attributes each selected row's output (the predicted class by default, or --target's)
to the data's columns, with chainrule.explain: integrated gradients (ig, 50 Gauss-Legendre
steps), saliency (the signed gradient), input_x_gradient, smoothgrad (20 copies, noise 0.1),
occlusion (a column, or 2x2 patches / segments of 4 for images and signals), lime (1000
samples) or permutation (the importance of each column for the score over the rows; needs the
target column). Attributions are computed on the prepared inputs and summed back to the data's
columns (the one-hot columns of a category into its column); the baseline is the prepared zero:
the training mean of each numeric column, no category. Without --out the CSV goes to stdout;
with --out DIR, DIR gets the CSV and pictures (heat-maps over images and signals, a ranked bar
chart for tables, LIME's weights of the first row), written together.

examples:
  chainrule explain --model runs/latest digits --rows 0:8 --out why_digits
  chainrule explain --model house_model new_houses.csv --method lime --rows 3
  chainrule explain --model iris_model iris --method permutation --rows : --json""",
    "summary": """--model is a model folder written by `chainrule train`, or an ONNX file (.onnx): for a file,
its inputs and outputs, and its layers when chainrule.onnx.loader reads it back into a network.

examples:
  chainrule summary --model runs/latest
  chainrule summary --model house_model --json
  chainrule summary --model house_model/model.onnx""",
    "export": """Writes a trained model as an ONNX file that ONNX Runtime (and the other ONNX tools) run,
with its preprocessing: the graph takes the raw columns and returns what `chainrule predict`
returns. A model trained on a CSV file takes one input per feature column, [batch, 1]: float
for a numeric column (NaN for a missing cell), string for a categorical one (the cell's text;
an empty cell and the CSV reader's missing markers, such as NA, N/A, NULL, NaN and ?, are
imputed as in training; an unseen category gives zeros). A model trained on an embedded dataset
takes one input, "input", float [batch, features], the dataset's raw features. Outputs: for
classification "label" (the class names) and "probabilities" [batch, classes] (models trained
on cross-entropy) or "scores" (perceptron, svm); for regression "variable" [batch], in the
target's units. --network-only writes the network alone: "input" (the prepared features) to
"output" (its scores), which chainrule.onnx.loader reads back.

examples:
  chainrule export --model house_model                      # house_model/model.onnx
  chainrule export --model runs/latest --output digits.onnx --force
  chainrule export --model house_model --network-only --output network.onnx""",
    "datasets": """examples:
  chainrule datasets
  chainrule datasets --json""",
}


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``chainrule COMMAND ...``: one subparser per command, each with --quiet, --verbose and --json."""
    formatter = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(
        prog="chainrule",
        description="Train and use neural networks built on chainrule's autodiff, on embedded datasets or CSV files.",
        epilog=EXAMPLES[None],
        formatter_class=formatter,
    )
    parser.add_argument("--version", action="version", version=f"chainrule {cr.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    output = argparse.ArgumentParser(add_help=False)
    group = output.add_argument_group("output")
    loudness = group.add_mutually_exclusive_group()
    loudness.add_argument(
        "-q", "--quiet", action="store_true", help="print only the results (no progress, notes or summary)"
    )
    loudness.add_argument(
        "-v", "--verbose", action="store_true", help="print more (train, summary: the preprocessing of every column)"
    )
    group.add_argument("--json", action="store_true", help="print the results as JSON (for scripts)")

    def command(
        name: str, help: str, description: str, reads_a_model: bool = False, model_help: str | None = None
    ) -> argparse.ArgumentParser:
        """A subparser with the output options; ``reads_a_model``: with --model DIR first."""
        parser = sub.add_parser(
            name, help=help, description=description, epilog=EXAMPLES[name], formatter_class=formatter, parents=[output]
        )
        if reads_a_model:
            parser.add_argument(
                "--model",
                required=True,
                metavar="DIR",
                help=model_help or "a model folder written by `chainrule train`",
            )
        return parser

    train = command(
        "train",
        "train a model on an embedded dataset or a CSV file",
        "Train a model, print its train / validation / test metrics and its summary, and save the "
        "model, history.csv, a loss-curve PNG and report.json to --out.",
    )
    data = train.add_argument_group("data")
    data.add_argument(
        "data",
        nargs="?",
        default="digits",
        metavar="DATA",
        help="an embedded dataset name or a CSV file (default: digits)",
    )
    data.add_argument("--target", metavar="COL", help="the column to predict (required for a CSV file)")
    data.add_argument(
        "--task",
        choices=["classification", "regression"],
        help="default: from the data (a CSV target of text or of few whole numbers is classification)",
    )
    data.add_argument(
        "--drop", type=_names, default=[], metavar="COL,COL", help="CSV columns to leave out (ids, leaks)"
    )
    data.add_argument(
        "--test-size",
        type=_fraction(False),
        default=0.25,
        metavar="F",
        help="fraction kept for testing (default: 0.25)",
    )
    data.add_argument(
        "--validation-split",
        type=_fraction(True),
        default=0.2,
        metavar="F",
        help="fraction of the training set held out for validation (default: 0.2)",
    )
    net = train.add_argument_group("model")
    net.add_argument(
        "--model",
        choices=MODELS,
        default="mlp",
        help="mlp (default); logistic, perceptron, svm: one layer of neurons, classification; "
        "linear: one neuron, regression; cnn: convolutions, for digits and mnist1d",
    )
    net.add_argument(
        "--hidden",
        type=_hidden,
        default=None,
        metavar="SIZES",
        help="hidden layer sizes of mlp and cnn, e.g. 64,32 (default: 64)",
    )
    net.add_argument(
        "--activation",
        default=None,
        choices=["relu", "tanh", "sigmoid", "identity"],
        help="of the hidden layers (default: relu)",
    )
    fitting = train.add_argument_group("training")
    fitting.add_argument("--epochs", type=int, default=60, metavar="N", help="default: 60")
    fitting.add_argument("--batch-size", type=int, default=32, metavar="K", help="default: 32")
    fitting.add_argument(
        "--lr", type=float, default=None, help="learning rate (default: 0.05 for sgd/momentum, 0.001 for adam)"
    )
    fitting.add_argument(
        "--optimizer", default="momentum", choices=["sgd", "momentum", "adam"], help="default: momentum"
    )
    fitting.add_argument("--l2", type=float, default=0.0, metavar="A", help="weight decay (L2 penalty, default: 0)")
    fitting.add_argument(
        "--early-stopping",
        action="store_true",
        help="stop when the validation loss stops improving and keep the best weights",
    )
    fitting.add_argument(
        "--patience", type=int, default=10, metavar="N", help="epochs without improvement before stopping (default: 10)"
    )
    fitting.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="S",
        help="seed of the split, the initial weights and the shuffling (default: 0)",
    )
    fitting.add_argument(
        "--no-compile",
        action="store_true",
        help="run every step eagerly instead of replaying a compiled step (the same numbers, slower; for debugging)",
    )
    saving = train.add_argument_group("saving")
    saving.add_argument(
        "--out",
        default="runs/latest",
        metavar="DIR",
        help="output folder (default: runs/latest), replaced whole at the end of the run: the files are "
        "written to DIR.chainrule-new-XXXXXXXX beside it, then swapped in, so DIR holds one run complete; "
        "such a folder (or DIR.chainrule-old-XXXXXXXX) left by a killed run can be deleted",
    )
    saving.add_argument("--force", action="store_true", help="replace an earlier run in --out")
    saving.add_argument(
        "--resume",
        action="store_true",
        help="continue a run of --out DIR that was interrupted (killed, Ctrl-C, a crash), from the backup "
        "every run keeps in DIR.chainrule-backup after each epoch, with the same settings; it ends as the "
        "run would have uninterrupted (implies --force)",
    )
    saving.add_argument(
        "--no-plot", action="store_true", help="skip loss_curve.png (matplotlib takes seconds to start)"
    )

    ev = command(
        "evaluate",
        "the metrics of a trained model on labelled data",
        "Print the loss and metrics of a trained model on labelled data.",
        reads_a_model=True,
    )
    ev.add_argument("data", metavar="DATA", help="an embedded dataset name or a CSV file with the target column")
    ev.add_argument("--target", metavar="COL", help="the target column (default: the one the model was trained on)")

    pr = command(
        "predict",
        "predictions of a trained model, as CSV",
        "Predict with a trained model and write the predictions as CSV.",
        reads_a_model=True,
    )
    pr.add_argument("data", metavar="DATA", help="an embedded dataset name or a CSV file")
    pr.add_argument("-o", "--output", metavar="FILE", help="the CSV file to write (default: stdout)")
    pr.add_argument("--id-column", metavar="COL", help="a column of DATA copied into the output, first")
    pr.add_argument("--force", action="store_true", help="overwrite an existing --output file")

    command(
        "summary",
        "describe a trained model",
        "Describe a trained model: its data, preprocessing, network and test metrics.",
        reads_a_model=True,
        model_help="a model folder written by `chainrule train`, or an ONNX file (.onnx)",
    )

    exp = command(
        "export",
        "write a trained model as an ONNX file",
        "Write a trained model, with its preprocessing, as an ONNX file that runs on the raw columns.",
        reads_a_model=True,
    )
    exp.add_argument(
        "-o", "--output", metavar="FILE", help="the ONNX file to write (default: model.onnx in the model folder)"
    )
    exp.add_argument("--force", action="store_true", help="overwrite an existing --output file")
    exp.add_argument(
        "--network-only",
        action="store_true",
        help="write the network alone (prepared features in, scores out), without the preprocessing and labels",
    )

    ex = command(
        "explain",
        "which columns drove a trained model's outputs",
        "Attribute a trained model's outputs on DATA's rows to its columns, as CSV (and pictures with --out).",
        reads_a_model=True,
    )
    ex.add_argument("data", metavar="DATA", help="an embedded dataset name or a CSV file")
    ex.add_argument("--method", choices=METHODS, default="ig", help="default: ig (integrated gradients)")
    ex.add_argument(
        "--rows", default="0:10", metavar="A:B", help="rows to explain: A:B, K or I,J,K, 0-based (default: 0:10)"
    )
    ex.add_argument("--target", metavar="CLASS", help="the class to explain (default: each row's predicted class)")
    ex.add_argument("--repeats", type=int, default=5, metavar="N", help="permutation: shuffles per column (default: 5)")
    ex.add_argument(
        "--seed", type=int, default=0, metavar="S", help="seed of smoothgrad, lime and permutation (default: 0)"
    )
    ex.add_argument(
        "--out", metavar="DIR", help="write the CSV and the pictures to this folder (default: the CSV to stdout)"
    )
    ex.add_argument("--force", action="store_true", help="replace an earlier explanation in --out")
    ex.add_argument("--no-plot", action="store_true", help="write the CSV only")

    command("datasets", "list the embedded datasets", "List the embedded datasets with their sizes.")
    return parser
