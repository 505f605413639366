"""Training: the fit loop, evaluation, prediction, callbacks, metrics, history and summary."""

from chainrule.train import metrics
from chainrule.train.callbacks import (
    BackupAndRestore,
    Callback,
    CSVLogger,
    EarlyStopping,
    GradientHistory,
    GradientMonitor,
    LambdaCallback,
    LearningRateScheduler,
    ModelCheckpoint,
    TerminateOnNaN,
    TrainContext,
)
from chainrule.train.history import History
from chainrule.train.inference import evaluate, predict, predict_proba
from chainrule.train.loop import fit
from chainrule.train.summary import ModelSummary, summary

__all__ = [
    "fit",
    "evaluate",
    "predict",
    "predict_proba",
    "History",
    "summary",
    "ModelSummary",
    "metrics",
    "Callback",
    "BackupAndRestore",
    "CSVLogger",
    "EarlyStopping",
    "GradientMonitor",
    "GradientHistory",
    "LambdaCallback",
    "LearningRateScheduler",
    "ModelCheckpoint",
    "TerminateOnNaN",
    "TrainContext",
]
