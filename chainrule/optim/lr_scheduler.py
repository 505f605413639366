"""Learning-rate schedules: change each param group's ``lr`` once per epoch (or batch), as PyTorch's do.

Call ``scheduler.step()`` once per epoch, after the epoch's ``optimizer.step()`` calls
(``ReduceLROnPlateau.step(metric)`` takes the monitored value); OneCycleLR and CyclicLR are
stepped after every batch instead. Creating a scheduler sets the learning rate of epoch 0 and
records each group's starting rate as ``group["initial_lr"]``.

Like PyTorch's, the multiplicative schedules (StepLR, MultiStepLR, ExponentialLR, LinearLR,
ConstantLR, PolynomialLR, MultiplicativeLR, CosineAnnealingLR) compute each new rate from the
group's current one, so several schedulers on one optimiser compose (each applies its factor to
what the others left; ``ChainedScheduler`` steps them together); LambdaLR,
CosineAnnealingWarmRestarts, CyclicLR and OneCycleLR set the rate outright. ``SequentialLR``
hands over from one schedule to the next at given epochs (a warm-up, then a decay).

Every scheduler's ``step()`` is called live on each replay of a ``cr.compile``d step, and its
``state_dict()`` holds plain values (JSON-friendly), which ``chainrule.train``'s
``LearningRateScheduler`` callback saves with ``BackupAndRestore``'s backups.
"""

from __future__ import annotations

import copy
import math
import numbers
from bisect import bisect_right
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from chainrule.compiler.recorder import replayed
from chainrule.optim.optimizer import Optimizer


class LRScheduler:
    """Base of the epoch-based schedules: ``step()`` moves to the next epoch and sets each group's ``lr``.

    Subclasses define ``get_lr()``, the rates for epoch ``self.last_epoch``, and list in
    ``_hyper`` the constructor arguments that ``state_dict`` saves and ``repr`` shows.

    Args:
        optimizer: the optimiser whose ``param_groups[i]["lr"]`` to set.
        last_epoch: the index of the last finished epoch when resuming (default -1: start afresh;
            resuming needs ``"initial_lr"`` in every group, as a scheduler leaves it).

    Example:
        >>> import chainrule as cr
        >>> class Halving(cr.optim.LRScheduler):  # a schedule of your own: get_lr() per epoch
        ...     def get_lr(self):
        ...         return [base * 0.5 ** self.last_epoch for base in self.base_lrs]
        >>> opt = cr.optim.SGD([cr.nn.Parameter(cr.zeros(1))], lr=1.0)
        >>> sched = Halving(opt)
        >>> for _ in range(2):
        ...     opt.step()
        ...     sched.step()
        >>> opt.param_groups[0]['lr']
        0.25
    """

    _hyper: tuple[str, ...] = ()
    _is_initial = False  # True during the step that sets epoch 0's rates (PyTorch's flag of that name)

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        _check_optimizer(self, optimizer)
        _check_last_epoch(self, last_epoch)
        groups = optimizer.param_groups
        if last_epoch == -1:
            for group in groups:
                group.setdefault("initial_lr", group["lr"])
        else:
            missing = [i for i, group in enumerate(groups) if "initial_lr" not in group]
            if missing:
                raise ValueError(
                    f"{self._name}: resuming at last_epoch={last_epoch} needs 'initial_lr' in param groups {missing}"
                )
        self.optimizer = optimizer
        self.base_lrs: list[float] = [group["initial_lr"] for group in groups]
        self.last_epoch = int(last_epoch)
        self._last_lr: list[float] = []
        self._initial_step()

    def _initial_step(self) -> None:
        """Set the rates of the first epoch (at construction, and when a SequentialLR starts this schedule)."""
        self._step_count = 0
        self._is_initial = True
        try:
            self.step()
        finally:
            self._is_initial = False

    @property
    def _name(self) -> str:
        return type(self).__name__

    def get_lr(self) -> list[float]:
        """The learning rate of each group for epoch ``self.last_epoch``."""
        raise NotImplementedError(f"{self._name} does not define get_lr")

    def get_last_lr(self) -> list[float]:
        """The learning rates this scheduler set last, one per param group."""
        return list(self._last_lr)

    def _current_lrs(self) -> list[float]:
        return [group["lr"] for group in self.optimizer.param_groups]

    @replayed
    def step(self) -> None:
        """Move to the next epoch and set every group's learning rate for it (nothing changes on error)."""
        self._step_count += 1
        try:
            self._update_lr()
        except BaseException:
            self._step_count -= 1
            raise

    def _update_lr(self, epoch: int | None = None) -> None:
        """Go to the next epoch, or to ``epoch`` by the closed form where the schedule has one
        (``_get_closed_form_lr``; SequentialLR starts a schedule at epoch 0 this way, as PyTorch's)."""
        previous = self.last_epoch
        self.last_epoch = previous + 1 if epoch is None else epoch
        closed_form = getattr(self, "_get_closed_form_lr", None)
        try:
            lrs = self.get_lr() if epoch is None or closed_form is None else closed_form()
        except BaseException:
            self.last_epoch = previous
            raise
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = float(lr)
        self._last_lr = self._current_lrs()

    # ---------------------------------------------------------------- saving
    def _state_keys(self) -> tuple[str, ...]:
        return ("last_epoch", "base_lrs", "_step_count", "_last_lr") + self._hyper

    def state_dict(self) -> dict[str, Any]:
        """The schedule's position and settings (plain Python values, JSON-friendly)."""
        return {key: copy.deepcopy(getattr(self, key)) for key in self._state_keys()}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore what ``state_dict`` saved; every missing or unexpected key is reported, nothing changes on error."""
        expected = self._state_keys()
        missing = [k for k in expected if k not in state_dict]
        unexpected = [k for k in state_dict if k not in expected]
        problems = []
        if missing:
            problems.append("missing " + ", ".join(missing))
        if unexpected:
            problems.append("unexpected " + ", ".join(unexpected))
        if problems:
            raise KeyError(f"{self._name}.load_state_dict: " + "; ".join(problems))
        for key in expected:
            setattr(self, key, copy.deepcopy(state_dict[key]))

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={getattr(self, key)!r}" for key in self._hyper)
        return f"{self._name}({args}{', ' if args else ''}last_epoch={self.last_epoch})"


class StepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every ``step_size`` epochs.

    ``lr = base_lr * gamma ** (epoch // step_size)``.

    Args:
        optimizer: the optimiser to schedule.
        step_size: epochs between decays.
        gamma: the factor of each decay (default 0.1).
        last_epoch: index of the last finished epoch when resuming (default -1).

    Example:
        >>> import chainrule as cr
        >>> opt = cr.optim.SGD([cr.nn.Parameter([1.0])], lr=1.0)
        >>> sched = cr.optim.StepLR(opt, step_size=2, gamma=0.5)
        >>> lrs = []
        >>> for epoch in range(6):
        ...     lrs.append(sched.get_last_lr()[0])   # train one epoch with this rate, then:
        ...     sched.step()
        >>> lrs
        [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    """

    _hyper = ("step_size", "gamma")

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1):
        _check_positive_int(self, "step_size", step_size)
        _check_positive(self, "gamma", gamma)
        self.step_size = int(step_size)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0 or self.last_epoch % self.step_size != 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class MultiStepLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` at each epoch listed in ``milestones``.

    Args:
        optimizer: the optimiser to schedule.
        milestones: epoch indices (a milestone listed twice decays twice).
        gamma: the factor of each decay (default 0.1).
        last_epoch: index of the last finished epoch when resuming (default -1).

    Example:
        >>> import chainrule as cr
        >>> opt = cr.optim.SGD([cr.nn.Parameter([1.0])], lr=1.0)
        >>> sched = cr.optim.MultiStepLR(opt, milestones=[1, 3], gamma=0.1)
        >>> lrs = []
        >>> for epoch in range(4):
        ...     lrs.append(round(sched.get_last_lr()[0], 6))
        ...     sched.step()
        >>> lrs
        [1.0, 0.1, 0.1, 0.01]
    """

    _hyper = ("milestones", "gamma")

    def __init__(self, optimizer: Optimizer, milestones: Sequence[int], gamma: float = 0.1, last_epoch: int = -1):
        milestones = list(milestones)
        for m in milestones:
            if not isinstance(m, numbers.Integral) or m < 0:
                raise ValueError(f"{self._name}: invalid milestone: {m!r} (expected an epoch index >= 0)")
        _check_positive(self, "gamma", gamma)
        self.milestones = sorted(int(m) for m in milestones)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        decays = self.milestones.count(self.last_epoch)
        if decays == 0:
            return self._current_lrs()
        return [lr * self.gamma**decays for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma ** bisect_right(self.milestones, self.last_epoch) for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """Multiply the learning rate by ``gamma`` every epoch: ``lr = base_lr * gamma ** epoch``.

    Args:
        optimizer: the optimiser to schedule.
        gamma: the factor per epoch.
        last_epoch: index of the last finished epoch when resuming (default -1).

    Example:
        >>> import chainrule as cr
        >>> opt = cr.optim.SGD([cr.nn.Parameter([1.0])], lr=1.0)
        >>> sched = cr.optim.ExponentialLR(opt, gamma=0.5)
        >>> sched.step(); sched.step()
        >>> sched.get_last_lr()
        [0.25]
    """

    _hyper = ("gamma",)

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1):
        _check_positive(self, "gamma", gamma)
        self.gamma = gamma
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:  # (resuming at last_epoch=n keeps the rate the optimizer holds, as PyTorch's)
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        return [base * self.gamma**self.last_epoch for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    r"""Anneal the learning rate from its base value to ``eta_min`` along half a cosine over ``T_max`` epochs.

    ``lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * epoch / T_max)) / 2``; past ``T_max`` the
    cosine carries on and the rate rises again (no restarts). As PyTorch does, each rate is computed
    from the previous one by the ratio of consecutive cosine terms, which equals the formula above
    while nothing else changes the rate and lets other schedules compose with this one.

    Args:
        optimizer: the optimiser to schedule.
        T_max: epochs from the base rate down to ``eta_min``.
        eta_min: the lowest rate (default 0).
        last_epoch: index of the last finished epoch when resuming (default -1).

    Example:
        >>> import chainrule as cr
        >>> opt = cr.optim.SGD([cr.nn.Parameter([1.0])], lr=1.0)
        >>> sched = cr.optim.CosineAnnealingLR(opt, T_max=4)
        >>> lrs = []
        >>> for epoch in range(5):
        ...     lrs.append(round(sched.get_last_lr()[0], 4))
        ...     sched.step()
        >>> lrs
        [1.0, 0.8536, 0.5, 0.1464, 0.0]
    """

    _hyper = ("T_max", "eta_min")

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1):
        _check_positive_int(self, "T_max", T_max)
        if not _is_real(eta_min) or eta_min < 0:
            raise ValueError(f"{self._name}: invalid eta_min: {eta_min!r} (expected a number >= 0)")
        self.T_max = int(T_max)
        self.eta_min = eta_min
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        epoch, T, low = self.last_epoch, self.T_max, self.eta_min
        if epoch == 0:
            return self._current_lrs()
        if self._step_count == 1:  # resumed at a later epoch: no previous rate to build on
            return [low + (base - low) * (1 + math.cos(math.pi * epoch / T)) / 2 for base in self.base_lrs]
        if (epoch - 1 - T) % (2 * T) == 0:  # leaving the trough, where the ratio below divides by 0
            return [
                lr + (base - low) * (1 - math.cos(math.pi / T)) / 2
                for lr, base in zip(self._current_lrs(), self.base_lrs)
            ]
        ratio = (1 + math.cos(math.pi * epoch / T)) / (1 + math.cos(math.pi * (epoch - 1) / T))
        return [low + ratio * (lr - low) for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        low = self.eta_min
        return [
            low + (base - low) * (1 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2 for base in self.base_lrs
        ]


class LambdaLR(LRScheduler):
    """Set the learning rate to ``base_lr * lr_lambda(epoch)``: any schedule as a function.

    Args:
        optimizer: the optimiser to schedule.
        lr_lambda: a function of the epoch index giving the factor, or a list with one per group.
        last_epoch: index of the last finished epoch when resuming (default -1).

    The functions are not saved by ``state_dict`` (code is never serialised): rebuild the scheduler
    with the same function, then load its state.

    Example (a linear warm-up over 3 epochs followed by a constant rate):
        >>> import chainrule as cr
        >>> opt = cr.optim.SGD([cr.nn.Parameter([1.0])], lr=0.3)
        >>> sched = cr.optim.LambdaLR(opt, lambda epoch: min(1.0, (epoch + 1) / 3))
        >>> lrs = []
        >>> for epoch in range(5):
        ...     lrs.append(round(sched.get_last_lr()[0], 6))
        ...     sched.step()
        >>> lrs
        [0.1, 0.2, 0.3, 0.3, 0.3]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
        last_epoch: int = -1,
    ):
        self.lr_lambdas = _lambdas(self, optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base * f(self.last_epoch) for base, f in zip(self.base_lrs, self.lr_lambdas)]


class LinearLR(LRScheduler):
    """Scale the learning rate by a factor going linearly from ``start_factor`` to ``end_factor``.

    The factor moves over ``total_iters`` epochs and then stays at ``end_factor``
    (``lr = base_lr * (start + (end - start) * min(epoch, total_iters) / total_iters)``).
    With ``end_factor=1`` this is a linear warm-up; see also ``LinearWarmup``.

    Args:
        optimizer: the optimiser to schedule.
        start_factor: the factor at epoch 0, in (0, 1] (default 1/3).
        end_factor: the factor from epoch ``total_iters`` on, in [0, 1] (default 1).
        total_iters: epochs the change takes (default 5).
        last_epoch: index of the last finished epoch when resuming (default -1).

    Example:
        >>> import chainrule as cr
        >>> opt = cr.optim.SGD([cr.nn.Parameter([1.0])], lr=1.0)
        >>> sched = cr.optim.LinearLR(opt, start_factor=0.25, total_iters=3)
        >>> lrs = []
        >>> for epoch in range(5):
        ...     lrs.append(round(sched.get_last_lr()[0], 6))
        ...     sched.step()
        >>> lrs
        [0.25, 0.5, 0.75, 1.0, 1.0]
    """

    _hyper = ("start_factor", "end_factor", "total_iters")

    def __init__(
        self,
        optimizer: Optimizer,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        total_iters: int = 5,
        last_epoch: int = -1,
    ):
        if not _is_real(start_factor) or not 0 < start_factor <= 1:
            raise ValueError(f"{self._name}: invalid start_factor: {start_factor!r} (expected a number in (0, 1])")
        if not _is_real(end_factor) or not 0 <= end_factor <= 1:
            raise ValueError(f"{self._name}: invalid end_factor: {end_factor!r} (expected a number in [0, 1])")
        _check_positive_int(self, "total_iters", total_iters)
        self.start_factor = start_factor
        self.end_factor = end_factor
        self.total_iters = int(total_iters)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        epoch, start, end = self.last_epoch, self.start_factor, self.end_factor
        if epoch == 0:
            return [lr * start for lr in self._current_lrs()]
        if self._is_initial or epoch > self.total_iters:  # (resuming keeps the optimizer's rate, as PyTorch's)
            return self._current_lrs()
        # the ratio of this epoch's factor to the previous one
        ratio = 1 + (end - start) / (self.total_iters * start + (epoch - 1) * (end - start))
        return [lr * ratio for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        start, end, total = self.start_factor, self.end_factor, self.total_iters
        return [base * (start + (end - start) * min(total, self.last_epoch) / total) for base in self.base_lrs]


class LinearWarmup(LinearLR):
    """Linear warm-up: the rate rises from ``start_factor * base_lr`` to ``base_lr`` over ``warmup_epochs``.

    The same schedule as ``LinearLR(optimizer, start_factor, 1.0, warmup_epochs)``.

    Args:
        optimizer: the optimiser to schedule.
        warmup_epochs: epochs until the base rate is reached.
        start_factor: the fraction of the base rate at epoch 0, in (0, 1] (default 0.1).
        last_epoch: index of the last finished epoch when resuming (default -1).

    Example:
        >>> import chainrule as cr
        >>> opt = cr.optim.SGD([cr.nn.Parameter([1.0])], lr=1.0)
        >>> sched = cr.optim.LinearWarmup(opt, warmup_epochs=2, start_factor=0.5)
        >>> lrs = []
        >>> for epoch in range(4):
        ...     lrs.append(sched.get_last_lr()[0])
        ...     sched.step()
        >>> lrs
        [0.5, 0.75, 1.0, 1.0]
    """

    def __init__(self, optimizer: Optimizer, warmup_epochs: int, start_factor: float = 0.1, last_epoch: int = -1):
        _check_positive_int(self, "warmup_epochs", warmup_epochs)
        super().__init__(
            optimizer, start_factor=start_factor, end_factor=1.0, total_iters=warmup_epochs, last_epoch=last_epoch
        )

    def __repr__(self) -> str:
        return (
            f"{self._name}(warmup_epochs={self.total_iters}, start_factor={self.start_factor!r}, "
            f"last_epoch={self.last_epoch})"
        )


class ReduceLROnPlateau(LRScheduler):
    """Divide the learning rate when a monitored metric has stopped improving.

    Call ``step(metric)`` once per epoch with the validation loss (``mode="min"``) or, say, accuracy
    (``mode="max"``). After more than ``patience`` epochs without improvement the rate of each
    group becomes ``max(lr * factor, min_lr)``; then ``cooldown`` epochs pass before bad epochs
    count again. A value improves on the best so far when it beats it by more than ``threshold``
    (relative: ``best - |best| * threshold`` in min mode; absolute: ``best - threshold``).
    PyTorch's relative test is ``best * (1 - threshold)``, the same for a positive best; for a
    negative one it counts a flat or slightly worse value as better, so PyTorch never cuts the
    rate of a metric that stays negative (pytorch/pytorch#47513). chainrule cuts it.

    Args:
        optimizer: the optimiser to schedule.
        mode: ``"min"`` or ``"max"`` (default ``"min"``).
        factor: the factor of each reduction, in [0, 1) (default 0.1).
        patience: epochs without improvement tolerated before reducing (default 10).
        threshold: how much better a value must be to count as an improvement (default 1e-4).
        threshold_mode: ``"rel"`` or ``"abs"`` (default ``"rel"``).
        cooldown: epochs to wait after a reduction before counting bad epochs again (default 0).
        min_lr: the lowest rate, one number or one per group (default 0).
        eps: a reduction smaller than this is skipped (default 1e-8).

    Example:
        >>> import chainrule as cr
        >>> opt = cr.optim.SGD([cr.nn.Parameter([1.0])], lr=1.0)
        >>> sched = cr.optim.ReduceLROnPlateau(opt, factor=0.5, patience=1)
        >>> for val_loss in [1.0, 0.9, 0.95, 0.95, 0.95, 0.95]:
        ...     sched.step(val_loss)
        >>> sched.get_last_lr()
        [0.25]
    """

    _hyper = ("mode", "factor", "patience", "threshold", "threshold_mode", "cooldown", "min_lrs", "eps")

    def __init__(
        self,
        optimizer: Optimizer,
        mode: str = "min",
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_lr: float | Sequence[float] = 0,
        eps: float = 1e-8,
    ):
        _check_optimizer(self, optimizer)
        if mode not in ("min", "max"):
            raise ValueError(f"{self._name}: invalid mode: {mode!r} (expected 'min' or 'max')")
        if threshold_mode not in ("rel", "abs"):
            raise ValueError(f"{self._name}: invalid threshold_mode: {threshold_mode!r} (expected 'rel' or 'abs')")
        if not _is_real(factor) or not 0 <= factor < 1:
            raise ValueError(f"{self._name}: invalid factor: {factor!r} (expected a number in [0, 1))")
        for name, value in (("patience", patience), ("cooldown", cooldown)):
            if not isinstance(value, numbers.Integral) or value < 0:
                raise ValueError(f"{self._name}: invalid {name}: {value!r} (expected an integer >= 0)")
        for name, value in (("threshold", threshold), ("eps", eps)):
            if not _is_real(value) or value < 0:
                raise ValueError(f"{self._name}: invalid {name}: {value!r} (expected a number >= 0)")
        min_lrs = _per_group(self, optimizer, "min_lr", min_lr)
        self.optimizer = optimizer
        self.mode = mode
        self.factor = factor
        self.patience = int(patience)
        self.threshold = threshold
        self.threshold_mode = threshold_mode
        self.cooldown = int(cooldown)
        self.min_lrs = [float(v) for v in min_lrs]
        self.eps = eps
        self.last_epoch = 0
        self._last_lr = self._current_lrs()
        self._reset()

    def _reset(self) -> None:
        self.best = math.inf if self.mode == "min" else -math.inf
        self.num_bad_epochs = 0
        self.cooldown_counter = 0

    @property
    def in_cooldown(self) -> bool:
        return self.cooldown_counter > 0

    def is_better(self, value: float, best: float) -> bool:
        """Whether ``value`` improves on ``best`` by more than the threshold."""
        if self.threshold_mode == "rel":
            margin = abs(best) * self.threshold if math.isfinite(best) else 0.0
        else:
            margin = self.threshold
        return value < best - margin if self.mode == "min" else value > best + margin

    @replayed
    def step(self, metrics: Any) -> None:  # type: ignore[override]
        """End an epoch whose monitored value was ``metrics`` (a number or one-element tensor)."""
        current = float(metrics)
        self.last_epoch += 1
        if self.is_better(current, self.best):
            self.best = current
            self.num_bad_epochs = 0
        else:
            self.num_bad_epochs += 1
        if self.in_cooldown:
            self.cooldown_counter -= 1
            self.num_bad_epochs = 0
        if self.num_bad_epochs > self.patience:
            self._reduce_lr()
            self.cooldown_counter = self.cooldown
            self.num_bad_epochs = 0
        self._last_lr = self._current_lrs()

    def _reduce_lr(self) -> None:
        for group, min_lr in zip(self.optimizer.param_groups, self.min_lrs):
            old = float(group["lr"])
            new = max(old * self.factor, min_lr)
            if old - new > self.eps:
                group["lr"] = new

    def _state_keys(self) -> tuple[str, ...]:
        return ("last_epoch", "_last_lr", "best", "num_bad_epochs", "cooldown_counter") + self._hyper

    def __repr__(self) -> str:
        args = ", ".join(f"{key}={getattr(self, key)!r}" for key in self._hyper if key != "min_lrs")
        return f"{self._name}({args}, min_lr={self.min_lrs!r})"


class MultiplicativeLR(LRScheduler):
    """Multiply the learning rate by ``lr_lambda(epoch)`` each epoch: ``lr = lr * lr_lambda(epoch)``.

    Unlike LambdaLR, which sets ``base_lr * lr_lambda(epoch)``, the factors accumulate: a constant
    ``lambda epoch: 0.95`` is ExponentialLR with ``gamma=0.95``. The first epoch keeps the base rate.

    Args:
        optimizer: the optimiser to schedule.
        lr_lambda: a function of the epoch index giving the factor, or a list with one per group.
        last_epoch: index of the last finished epoch when resuming (default -1).

    The functions are not saved by ``state_dict`` (code is never serialised): rebuild the scheduler
    with the same function, then load its state.

    Example:
        >>> import chainrule as cr
        >>> opt = cr.optim.SGD([cr.nn.Parameter([1.0])], lr=1.0)
        >>> sched = cr.optim.MultiplicativeLR(opt, lambda epoch: 0.5 if epoch % 2 == 0 else 1.0)
        >>> lrs = []
        >>> for epoch in range(5):
        ...     lrs.append(sched.get_last_lr()[0])
        ...     sched.step()
        >>> lrs
        [1.0, 1.0, 0.5, 0.5, 0.25]
    """

    def __init__(
        self,
        optimizer: Optimizer,
        lr_lambda: Callable[[int], float] | Sequence[Callable[[int], float]],
        last_epoch: int = -1,
    ):
        self.lr_lambdas = _lambdas(self, optimizer, lr_lambda)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self._is_initial:
            return self._current_lrs()
        return [lr * f(self.last_epoch) for lr, f in zip(self._current_lrs(), self.lr_lambdas)]


class ConstantLR(LRScheduler):
    """Scale the learning rate by ``factor`` for the first ``total_iters`` epochs, then restore it.

    ``lr = base_lr * factor`` while ``epoch < total_iters``, ``base_lr`` from then on: a constant
    warm-up (PyTorch's ConstantLR).

    Args:
        optimizer: the optimiser to schedule.
        factor: the factor of the first epochs, in (0, 1] (default 1/3).
        total_iters: epochs at the lower rate (default 5).
        last_epoch: index of the last finished epoch when resuming (default -1).

    Example:
        >>> import chainrule as cr
        >>> opt = cr.optim.SGD([cr.nn.Parameter([1.0])], lr=1.0)
        >>> sched = cr.optim.ConstantLR(opt, factor=0.5, total_iters=2)
        >>> lrs = []
        >>> for epoch in range(4):
        ...     lrs.append(sched.get_last_lr()[0])
        ...     sched.step()
        >>> lrs
        [0.5, 0.5, 1.0, 1.0]
    """

    _hyper = ("factor", "total_iters")

    def __init__(self, optimizer: Optimizer, factor: float = 1.0 / 3, total_iters: int = 5, last_epoch: int = -1):
        # (PyTorch accepts factor 0, then divides by it at epoch total_iters)
        if not _is_real(factor) or not 0 < factor <= 1:
            raise ValueError(f"{self._name}: invalid factor: {factor!r} (expected a number in (0, 1])")
        _check_positive_int(self, "total_iters", total_iters)
        self.factor = _number(factor)
        self.total_iters = int(total_iters)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        if self.last_epoch == 0:
            return [lr * self.factor for lr in self._current_lrs()]
        if self.last_epoch != self.total_iters:
            return self._current_lrs()
        return [lr * (1.0 / self.factor) for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        factor = self.factor + (self.last_epoch >= self.total_iters) * (1 - self.factor)
        return [base * factor for base in self.base_lrs]


class PolynomialLR(LRScheduler):
    """Decay the learning rate to 0 along a polynomial over ``total_iters`` epochs.

    ``lr = base_lr * (1 - min(epoch, total_iters) / total_iters) ** power``: with ``power=1`` a
    straight line to 0, reached at epoch ``total_iters`` and kept after. As PyTorch does, each rate
    is the previous one times the ratio of consecutive terms, so other schedules compose with it.

    Args:
        optimizer: the optimiser to schedule.
        total_iters: epochs until the rate reaches 0 (default 5).
        power: the power of the polynomial, >= 0 (default 1).
        last_epoch: index of the last finished epoch when resuming (default -1).

    Example:
        >>> import chainrule as cr
        >>> opt = cr.optim.SGD([cr.nn.Parameter([1.0])], lr=1.0)
        >>> sched = cr.optim.PolynomialLR(opt, total_iters=4, power=2.0)
        >>> lrs = []
        >>> for epoch in range(6):
        ...     lrs.append(sched.get_last_lr()[0])
        ...     sched.step()
        >>> lrs
        [1.0, 0.5625, 0.25, 0.0625, 0.0, 0.0]
    """

    _hyper = ("total_iters", "power")

    def __init__(self, optimizer: Optimizer, total_iters: int = 5, power: float = 1.0, last_epoch: int = -1):
        _check_positive_int(self, "total_iters", total_iters)
        if not _is_real(power) or power < 0:
            raise ValueError(f"{self._name}: invalid power: {power!r} (expected a number >= 0)")
        self.total_iters = int(total_iters)
        self.power = _number(power)
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        epoch, total = self.last_epoch, self.total_iters
        if self._is_initial or epoch > total:
            return self._current_lrs()
        decay = ((1.0 - epoch / total) / (1.0 - (epoch - 1) / total)) ** self.power
        return [lr * decay for lr in self._current_lrs()]

    def _get_closed_form_lr(self) -> list[float]:
        total = self.total_iters
        return [base * (1.0 - min(total, self.last_epoch) / total) ** self.power for base in self.base_lrs]


class CosineAnnealingWarmRestarts(LRScheduler):
    r"""Cosine annealing with warm restarts (SGDR): anneal from the base rate to ``eta_min`` over
    ``T_0`` epochs, jump back to the base rate, and anneal again over ``T_0 * T_mult`` epochs, ...

    ``lr = eta_min + (base_lr - eta_min) * (1 + cos(pi * T_cur / T_i)) / 2``, where ``T_cur`` counts
    the epochs since the last restart and ``T_i`` is the length of the current cycle.

    ``step()`` moves one epoch on; ``step(epoch)`` jumps to ``epoch``, which may be fractional, so
    that stepping after every batch with ``step(epoch + i / batches_per_epoch)`` anneals smoothly
    within each epoch (PyTorch's usage). A later ``step()`` moves one epoch on from there
    (``last_epoch`` becomes ``floor(epoch) + 1``), as PyTorch's does.

    Args:
        optimizer: the optimiser to schedule.
        T_0: epochs of the first cycle (an integer >= 1).
        T_mult: factor by which each cycle is longer than the last (an integer >= 1, default 1).
        eta_min: the lowest rate (default 0).
        last_epoch: index of the last finished epoch when resuming (default -1).

    Example:
        >>> import chainrule as cr
        >>> opt = cr.optim.SGD([cr.nn.Parameter([1.0])], lr=1.0)
        >>> sched = cr.optim.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2)
        >>> lrs = []
        >>> for epoch in range(7):
        ...     lrs.append(round(sched.get_last_lr()[0], 4))
        ...     sched.step()
        >>> lrs   # cycles of 2 and 4 epochs
        [1.0, 0.5, 1.0, 0.8536, 0.5, 0.1464, 1.0]
        >>> sched.step(0.5)   # half way through the first epoch
        >>> round(sched.get_last_lr()[0], 4)
        0.8536
    """

    _hyper = ("T_0", "T_mult", "eta_min")

    def __init__(self, optimizer: Optimizer, T_0: int, T_mult: int = 1, eta_min: float = 0.0, last_epoch: int = -1):
        _check_positive_int(self, "T_0", T_0)
        _check_positive_int(self, "T_mult", T_mult)
        if not _is_real(eta_min) or eta_min < 0:
            raise ValueError(f"{self._name}: invalid eta_min: {eta_min!r} (expected a number >= 0)")
        _check_last_epoch(self, last_epoch)
        self.T_0 = int(T_0)
        self.T_i = int(T_0)
        self.T_mult = int(T_mult)
        self.eta_min = _number(eta_min)
        self.T_cur: float = int(last_epoch)
        super().__init__(optimizer, last_epoch)

    def _state_keys(self) -> tuple[str, ...]:
        return super()._state_keys() + ("T_i", "T_cur")

    def get_lr(self) -> list[float]:
        low = self.eta_min
        return [low + (base - low) * (1 + math.cos(math.pi * self.T_cur / self.T_i)) / 2 for base in self.base_lrs]

    @replayed
    def step(self, epoch: float | None = None) -> None:
        """Move one epoch on, or to ``epoch`` (a number >= 0, fractional for a step within an epoch)."""
        if epoch is not None and (not _is_real(epoch) or epoch < 0):
            raise ValueError(f"{self._name}.step: invalid epoch: {epoch!r} (expected a number >= 0)")
        if epoch is None and self.last_epoch < 0:
            epoch = 0
        elif epoch is not None:
            epoch = _number(epoch)
        if epoch is None:
            epoch = self.last_epoch + 1
            self.T_cur = self.T_cur + 1
            if self.T_cur >= self.T_i:
                self.T_cur = self.T_cur % self.T_i
                self.T_i = self.T_i * self.T_mult
        elif epoch >= self.T_0:
            if self.T_mult == 1:
                self.T_cur = epoch % self.T_0
            else:
                n = int(math.log((epoch / self.T_0 * (self.T_mult - 1) + 1), self.T_mult))
                self.T_cur = epoch - self.T_0 * (self.T_mult**n - 1) / (self.T_mult - 1)
                self.T_i = self.T_0 * self.T_mult**n
        else:
            self.T_i = self.T_0
            self.T_cur = epoch
        self._step_count += 1
        self.last_epoch = math.floor(epoch)
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
            group["lr"] = float(lr)
        self._last_lr = self._current_lrs()


class CyclicLR(LRScheduler):
    """Cycle the learning rate between ``base_lr`` and ``max_lr`` (cyclical learning rates, Smith 2017).

    Step it after every batch. Each cycle rises linearly from ``base_lr`` to ``max_lr`` over
    ``step_size_up`` steps and falls back over ``step_size_down``; the height of the cycle is
    scaled by ``mode``: ``"triangular"`` keeps it, ``"triangular2"`` halves it each cycle,
    ``"exp_range"`` multiplies it by ``gamma ** step``. A ``scale_fn`` of your own (values in
    [0, 1]) replaces ``mode``, applied to the cycle number (``scale_mode="cycle"``) or to the step
    count (``"iterations"``). With ``cycle_momentum`` the momentum (SGD, RMSprop) or Adam's
    ``beta1`` moves the other way, from ``max_momentum`` at ``base_lr`` to ``base_momentum`` at
    ``max_lr``.

    Args:
        optimizer: the optimiser to schedule.
        base_lr: the lower rate, one number or one per group (set at construction).
        max_lr: the upper rate, one number or one per group.
        step_size_up: steps of the rising half of a cycle (default 2000).
        step_size_down: steps of the falling half (default: ``step_size_up``).
        mode: ``"triangular"``, ``"triangular2"`` or ``"exp_range"`` (default ``"triangular"``).
        gamma: the factor per step of ``"exp_range"`` (default 1).
        scale_fn: a function of one number giving the scale of the cycle's height (default None: ``mode``'s).
        scale_mode: what ``scale_fn`` is given, ``"cycle"`` or ``"iterations"`` (default ``"cycle"``).
        cycle_momentum: cycle the momentum too (default True; needs an optimiser with ``momentum``
            or ``betas``).
        base_momentum: the momentum at ``max_lr``, one number or one per group (default 0.8).
        max_momentum: the momentum at ``base_lr``, one number or one per group (default 0.9).
        last_epoch: the number of batches done when resuming (default -1).

    ``scale_fn`` is not saved by ``state_dict`` (code is never serialised): rebuild the scheduler
    with the same function, then load its state (and the optimizer's).

    Example:
        >>> import chainrule as cr
        >>> opt = cr.optim.SGD([cr.nn.Parameter([1.0])], lr=1.0, momentum=0.9)
        >>> sched = cr.optim.CyclicLR(opt, base_lr=0.1, max_lr=0.5, step_size_up=2, mode="triangular2")
        >>> lrs, momenta = [], []
        >>> for batch in range(9):
        ...     lrs.append(round(sched.get_last_lr()[0], 4))
        ...     momenta.append(round(opt.param_groups[0]["momentum"], 4))
        ...     sched.step()
        >>> lrs   # the second cycle reaches half as high
        [0.1, 0.3, 0.5, 0.3, 0.1, 0.2, 0.3, 0.2, 0.1]
        >>> momenta
        [0.9, 0.85, 0.8, 0.85, 0.9, 0.875, 0.85, 0.875, 0.9]
    """

    _hyper = (
        "max_lrs", "step_size_up", "step_size_down", "total_size", "step_ratio", "mode", "gamma", "scale_mode",
        "cycle_momentum", "base_momentums", "max_momentums", "use_beta1",
    )  # fmt: skip

    def __init__(
        self,
        optimizer: Optimizer,
        base_lr: float | Sequence[float],
        max_lr: float | Sequence[float],
        step_size_up: int = 2000,
        step_size_down: int | None = None,
        mode: str = "triangular",
        gamma: float = 1.0,
        scale_fn: Callable[[float], float] | None = None,
        scale_mode: str = "cycle",
        cycle_momentum: bool = True,
        base_momentum: float | Sequence[float] = 0.8,
        max_momentum: float | Sequence[float] = 0.9,
        last_epoch: int = -1,
    ):
        _check_optimizer(self, optimizer)
        _check_last_epoch(self, last_epoch)
        base_lrs = _per_group(self, optimizer, "base_lr", base_lr)
        max_lrs = _per_group(self, optimizer, "max_lr", max_lr)
        _check_positive(self, "step_size_up", step_size_up)
        if step_size_down is not None and (not _is_real(step_size_down) or step_size_down < 0):
            raise ValueError(f"{self._name}: invalid step_size_down: {step_size_down!r} (expected a number >= 0)")
        if scale_fn is None and mode not in _CYCLIC_MODES:
            raise ValueError(
                f"{self._name}: invalid mode: {mode!r} (expected one of {', '.join(map(repr, _CYCLIC_MODES))}, "
                "or a scale_fn of your own)"
            )
        if scale_fn is not None and not callable(scale_fn):
            raise TypeError(f"{self._name}: scale_fn must be callable or None, got {type(scale_fn).__name__}")
        if scale_mode not in ("cycle", "iterations"):
            raise ValueError(f"{self._name}: invalid scale_mode: {scale_mode!r} (expected 'cycle' or 'iterations')")
        _check_positive(self, "gamma", gamma)
        _check_flag(self, "cycle_momentum", cycle_momentum)
        if cycle_momentum:
            use_beta1, base_momentums, max_momentums = _momenta(self, optimizer, base_momentum, max_momentum)
        # (all checked: now change the optimizer)
        if last_epoch == -1:
            for lr, group in zip(base_lrs, optimizer.param_groups):
                group["lr"] = lr
        self.max_lrs = max_lrs
        self.step_size_up = _number(step_size_up)
        self.step_size_down = None if step_size_down is None else _number(step_size_down)
        up = float(step_size_up)
        self.total_size = up + (float(step_size_down) if step_size_down is not None else up)
        self.step_ratio = up / self.total_size
        self.mode = mode
        self.gamma = _number(gamma)
        self._scale_fn_custom = scale_fn
        self.scale_mode = scale_mode if scale_fn is not None else _CYCLIC_MODES[mode]
        self.cycle_momentum = bool(cycle_momentum)
        self.use_beta1 = False
        self.base_momentums: list[float] | None = None
        self.max_momentums: list[float] | None = None
        if cycle_momentum:
            self.use_beta1 = use_beta1
            self.base_momentums, self.max_momentums = base_momentums, max_momentums
            if last_epoch == -1:
                _start_momenta(optimizer, base_momentums, max_momentums, use_beta1)
        super().__init__(optimizer, last_epoch)
        self.base_lrs = base_lrs  # (after the first step, as PyTorch: that step read group["initial_lr"])

    def scale_fn(self, x: float) -> float:
        """The scale of the cycle's height at ``x`` (a cycle number or a step count, per ``scale_mode``)."""
        if self._scale_fn_custom is not None:
            return self._scale_fn_custom(x)
        if self.mode == "triangular":
            return 1.0
        if self.mode == "triangular2":
            return 1 / (2.0 ** (x - 1))
        return self.gamma**x

    def get_lr(self) -> list[float]:
        cycle = math.floor(1 + self.last_epoch / self.total_size)
        x = 1.0 + self.last_epoch / self.total_size - cycle
        if x <= self.step_ratio:
            scale_factor = x / self.step_ratio
        else:
            scale_factor = (x - 1) / (self.step_ratio - 1)
        scale = self.scale_fn(cycle if self.scale_mode == "cycle" else self.last_epoch)
        lrs = [base + (top - base) * scale_factor * scale for base, top in zip(self.base_lrs, self.max_lrs)]
        if self.cycle_momentum:
            momenta = [
                top - (top - bottom) * scale_factor * scale
                for bottom, top in zip(self.base_momentums, self.max_momentums)
            ]
            for group, momentum in zip(self.optimizer.param_groups, momenta):
                _set_momentum(group, momentum, self.use_beta1)
        return lrs

    def __repr__(self) -> str:
        return (
            f"{self._name}(base_lr={self.base_lrs!r}, max_lr={self.max_lrs!r}, step_size_up={self.step_size_up!r}, "
            f"step_size_down={self.step_size_down!r}, mode={self.mode!r}, gamma={self.gamma!r}, "
            f"scale_mode={self.scale_mode!r}, cycle_momentum={self.cycle_momentum!r}, last_epoch={self.last_epoch})"
        )


_CYCLIC_MODES = {"triangular": "cycle", "triangular2": "cycle", "exp_range": "iterations"}
"""CyclicLR's modes and the ``scale_mode`` each implies."""


class OneCycleLR(LRScheduler):
    """The 1cycle policy: warm the learning rate up to ``max_lr``, then anneal it far below where it began.

    Step it after every batch, ``total_steps`` times in all (or ``epochs * steps_per_epoch``). The
    rate starts at ``max_lr / div_factor``, rises to ``max_lr`` over the first ``pct_start`` of the
    steps and falls to ``max_lr / div_factor / final_div_factor`` by the last one, along half
    cosines (``anneal_strategy="cos"``) or straight lines (``"linear"``). With ``three_phase`` it
    comes back down to its starting rate symmetrically first and falls to the minimum in a third
    phase (the paper's schedule; the default two phases are fastai's). With ``cycle_momentum`` the
    momentum (SGD, RMSprop) or Adam's ``beta1`` moves the other way, between ``max_momentum`` and
    ``base_momentum``. Stepping more than ``total_steps`` times is an error.

    The bounds are kept in each param group (``"initial_lr"``, ``"max_lr"``, ``"min_lr"``,
    ``"max_momentum"``, ``"base_momentum"``) as PyTorch does: save and load the optimizer's state
    with the scheduler's.

    Args:
        optimizer: the optimiser to schedule.
        max_lr: the peak rate, one number or one per group.
        total_steps: the number of steps of the cycle (default None: ``epochs * steps_per_epoch``).
        epochs: with ``steps_per_epoch``, the other way to give the number of steps.
        steps_per_epoch: batches per epoch.
        pct_start: the fraction of the steps spent rising, in [0, 1] (default 0.3).
        anneal_strategy: ``"cos"`` or ``"linear"`` (default ``"cos"``).
        cycle_momentum: cycle the momentum too (default True; needs ``momentum`` or ``betas``).
        base_momentum: the momentum at ``max_lr``, one number or one per group (default 0.85).
        max_momentum: the momentum at the ends, one number or one per group (default 0.95).
        div_factor: ``max_lr / div_factor`` is the starting rate (default 25).
        final_div_factor: the starting rate over this is the final one (default 1e4).
        three_phase: rise, fall back to the start, then fall to the minimum (default False).
        last_epoch: the number of batches done when resuming (default -1).

    Example:
        >>> import chainrule as cr
        >>> opt = cr.optim.SGD([cr.nn.Parameter([1.0])], lr=0.1, momentum=0.9)
        >>> sched = cr.optim.OneCycleLR(opt, max_lr=1.0, total_steps=6, pct_start=0.5,
        ...                             anneal_strategy="linear", div_factor=10, final_div_factor=100)
        >>> lrs, momenta = [], []
        >>> for batch in range(6):
        ...     lrs.append(round(sched.get_last_lr()[0], 4))
        ...     momenta.append(round(opt.param_groups[0]["momentum"], 4))
        ...     sched.step()
        >>> lrs
        [0.1, 0.55, 1.0, 0.667, 0.334, 0.001]
        >>> momenta
        [0.95, 0.9, 0.85, 0.8833, 0.9167, 0.95]
    """

    _hyper = (
        "total_steps", "pct_start", "anneal_strategy", "cycle_momentum", "div_factor", "final_div_factor",
        "three_phase",
    )  # fmt: skip

    def __init__(
        self,
        optimizer: Optimizer,
        max_lr: float | Sequence[float],
        total_steps: int | None = None,
        epochs: int | None = None,
        steps_per_epoch: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        cycle_momentum: bool = True,
        base_momentum: float | Sequence[float] = 0.85,
        max_momentum: float | Sequence[float] = 0.95,
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        last_epoch: int = -1,
    ):
        _check_optimizer(self, optimizer)
        _check_last_epoch(self, last_epoch)
        if total_steps is not None:
            _check_positive_int(self, "total_steps", total_steps)
        elif epochs is not None and steps_per_epoch is not None:
            _check_positive_int(self, "epochs", epochs)
            _check_positive_int(self, "steps_per_epoch", steps_per_epoch)
            total_steps = epochs * steps_per_epoch
        else:
            raise ValueError(f"{self._name}: give total_steps, or both epochs and steps_per_epoch")
        if not _is_real(pct_start) or not 0 <= pct_start <= 1:
            raise ValueError(f"{self._name}: invalid pct_start: {pct_start!r} (expected a number in [0, 1])")
        if anneal_strategy not in ("cos", "linear"):
            raise ValueError(f"{self._name}: invalid anneal_strategy: {anneal_strategy!r} (expected 'cos' or 'linear')")
        _check_positive(self, "div_factor", div_factor)
        _check_positive(self, "final_div_factor", final_div_factor)
        _check_flag(self, "three_phase", three_phase)
        _check_flag(self, "cycle_momentum", cycle_momentum)
        max_lrs = _per_group(self, optimizer, "max_lr", max_lr)
        if cycle_momentum:
            use_beta1, base_momentums, max_momentums = _momenta(self, optimizer, base_momentum, max_momentum)
        total_steps = int(total_steps)
        rise_end = float(pct_start * total_steps) - 1
        if rise_end == 0:  # (PyTorch divides by zero at the first step)
            raise ValueError(
                f"{self._name}: pct_start * total_steps = {pct_start!r} * {total_steps} is 1: the rise to max_lr "
                "would take no step; choose another pct_start"
            )
        if three_phase:
            phases = [
                _phase(rise_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                _phase(float(2 * pct_start * total_steps) - 2, "max_lr", "initial_lr", "base_momentum", "max_momentum"),
                _phase(total_steps - 1, "initial_lr", "min_lr", "max_momentum", "max_momentum"),
            ]
        else:
            phases = [
                _phase(rise_end, "initial_lr", "max_lr", "max_momentum", "base_momentum"),
                _phase(total_steps - 1, "max_lr", "min_lr", "base_momentum", "max_momentum"),
            ]
        if last_epoch != -1:  # resuming: the bounds must be in the groups already
            needed = ("initial_lr", "max_lr", "min_lr") + (("max_momentum", "base_momentum") if cycle_momentum else ())
            missing = sorted({key for group in optimizer.param_groups for key in needed if key not in group})
            if missing:
                raise ValueError(
                    f"{self._name}: resuming at last_epoch={last_epoch} needs {', '.join(map(repr, missing))} in "
                    "every param group, as a OneCycleLR leaves them (load the optimizer's state first)"
                )
        # (all checked: now change the optimizer)
        if last_epoch == -1:
            for top, group in zip(max_lrs, optimizer.param_groups):
                group["initial_lr"] = top / _number(div_factor)
                group["max_lr"] = top
                group["min_lr"] = group["initial_lr"] / _number(final_div_factor)
        self.total_steps = total_steps
        self.pct_start = _number(pct_start)
        self.anneal_strategy = anneal_strategy
        self.div_factor = _number(div_factor)
        self.final_div_factor = _number(final_div_factor)
        self.three_phase = bool(three_phase)
        self._schedule_phases = phases
        self.cycle_momentum = bool(cycle_momentum)
        self.use_beta1 = False
        if cycle_momentum:
            self.use_beta1 = use_beta1
            if last_epoch == -1:
                _start_momenta(optimizer, base_momentums, max_momentums, use_beta1)
        super().__init__(optimizer, last_epoch)

    def _state_keys(self) -> tuple[str, ...]:
        return super()._state_keys() + ("_schedule_phases", "use_beta1")

    def _anneal(self, start: float, end: float, pct: float) -> float:
        if self.anneal_strategy == "cos":
            return end + (start - end) / 2.0 * (math.cos(math.pi * pct) + 1)
        return (end - start) * pct + start

    def get_lr(self) -> list[float]:
        step = self.last_epoch
        if step > self.total_steps:
            raise ValueError(
                f"{self._name}: stepped {step} times, past the schedule's total_steps={self.total_steps} "
                "(create the scheduler with more steps, or stop stepping it)"
            )
        start_step = 0.0
        for i, phase in enumerate(self._schedule_phases):
            end_step = phase["end_step"]
            if step <= end_step or i == len(self._schedule_phases) - 1:
                break
            start_step = end_step
        if end_step == start_step:  # (PyTorch divides by zero here)
            raise ValueError(
                f"{self._name}: step {step} falls in a phase of no steps (pct_start={self.pct_start!r} with "
                f"total_steps={self.total_steps}); choose another pct_start"
            )
        pct = (step - start_step) / (end_step - start_step)
        lrs = []
        for group in self.optimizer.param_groups:
            lrs.append(self._anneal(group[phase["start_lr"]], group[phase["end_lr"]], pct))
            if self.cycle_momentum:
                momentum = self._anneal(group[phase["start_momentum"]], group[phase["end_momentum"]], pct)
                _set_momentum(group, momentum, self.use_beta1)
        return lrs


def _phase(end_step: float, start_lr: str, end_lr: str, start_momentum: str, end_momentum: str) -> dict[str, Any]:
    """One phase of OneCycleLR: the step it ends at and the group keys of its bounds."""
    return {
        "end_step": end_step,
        "start_lr": start_lr,
        "end_lr": end_lr,
        "start_momentum": start_momentum,
        "end_momentum": end_momentum,
    }


class SequentialLR(LRScheduler):
    """Run schedules one after the other, switching at the epochs in ``milestones``.

    ``schedulers[0]`` runs until epoch ``milestones[0]``, where ``schedulers[1]`` starts from its
    own epoch 0 (from the base rates), and so on: the usual warm-up then decay is
    ``SequentialLR(opt, [LinearLR(opt, 0.1, total_iters=5), CosineAnnealingLR(opt, T_max=95)], milestones=[5])``.
    Create the schedulers on the optimizer first; SequentialLR undoes their first steps and starts
    the one for epoch 0.

    Args:
        optimizer: the optimiser, the one every scheduler was created with.
        schedulers: the schedules in order (not ReduceLROnPlateau, which steps with a metric).
        milestones: the epochs where each next schedule takes over, one fewer than the schedulers,
            in increasing order.
        last_epoch: index of the last finished epoch (default -1).

    Example:
        >>> import chainrule as cr
        >>> opt = cr.optim.SGD([cr.nn.Parameter([1.0])], lr=1.0)
        >>> warmup = cr.optim.LinearLR(opt, start_factor=0.25, total_iters=3)
        >>> decay = cr.optim.ExponentialLR(opt, gamma=0.5)
        >>> sched = cr.optim.SequentialLR(opt, [warmup, decay], milestones=[3])
        >>> lrs = []
        >>> for epoch in range(6):
        ...     lrs.append(sched.get_last_lr()[0])
        ...     sched.step()
        >>> lrs
        [0.25, 0.5, 0.75, 1.0, 0.5, 0.25]
    """

    def __init__(
        self, optimizer: Optimizer, schedulers: Sequence[LRScheduler], milestones: Sequence[int], last_epoch: int = -1
    ):
        _check_optimizer(self, optimizer)
        schedulers = _check_schedulers(self, schedulers, optimizer)
        milestones = list(milestones)
        if len(milestones) != len(schedulers) - 1:
            raise ValueError(
                f"{self._name}: expected {len(schedulers) - 1} milestones (one fewer than the {len(schedulers)} "
                f"schedulers), got {len(milestones)}"
            )
        for m in milestones:
            if not isinstance(m, numbers.Integral) or isinstance(m, bool) or m < 0:
                raise ValueError(f"{self._name}: invalid milestone: {m!r} (expected an epoch index >= 0)")
        if milestones != sorted(milestones):
            raise ValueError(f"{self._name}: milestones must be in increasing order, got {milestones!r}")
        for i, s in enumerate(schedulers[1:], 1):
            if isinstance(s, (SequentialLR, ChainedScheduler)):  # (PyTorch fails at the milestone)
                raise ValueError(
                    f"{self._name}: schedulers[{i}] is a {type(s).__name__}, which cannot be started at a "
                    "milestone; only the first scheduler may be a SequentialLR or ChainedScheduler"
                )
        _check_last_epoch(self, last_epoch)
        missing = [i for i, group in enumerate(optimizer.param_groups) if "initial_lr" not in group]
        if missing:
            raise ValueError(f"{self._name}: param groups {missing} have no 'initial_lr' (create the schedulers first)")
        self._schedulers = schedulers
        self._milestones = [int(m) for m in milestones]
        self.last_epoch = int(last_epoch) + 1
        self.optimizer = optimizer
        for group in optimizer.param_groups:  # back to the base rates
            group["lr"] = group["initial_lr"]
        self.recursive_undo()  # the schedulers' first steps
        first = self._schedulers[bisect_right(self._milestones, 0)]
        first._initial_step()
        self._last_lr = first.get_last_lr()

    def recursive_undo(self, sched: LRScheduler | None = None) -> None:
        """Take back the first step of every scheduler inside (and inside those), as PyTorch's."""
        target = self if sched is None else sched
        if hasattr(target, "_schedulers"):
            for s in target._schedulers:
                self.recursive_undo(s)
        elif hasattr(target, "last_epoch"):
            target.last_epoch -= 1

    @replayed
    def step(self) -> None:
        """Move to the next epoch: step the schedule of that epoch, or start the next one at a milestone."""
        self.last_epoch += 1
        idx = bisect_right(self._milestones, self.last_epoch)
        scheduler = self._schedulers[idx]
        try:
            if idx > 0 and self._milestones[idx - 1] == self.last_epoch:
                scheduler._update_lr(0)
            else:
                scheduler.step()
        except BaseException:
            self.last_epoch -= 1
            raise
        self._last_lr = scheduler.get_last_lr()

    def _state_keys(self) -> tuple[str, ...]:
        return ("last_epoch", "_milestones", "_last_lr")

    def state_dict(self) -> dict[str, Any]:
        """The position and the milestones, with each scheduler's ``state_dict()`` in ``"_schedulers"``."""
        return _container_state(self)

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore what ``state_dict`` saved, the schedulers' states included (nothing changes on error)."""
        _load_container_state(self, state_dict)

    def __repr__(self) -> str:
        return (
            f"{self._name}(schedulers={self._schedulers!r}, milestones={self._milestones!r}, "
            f"last_epoch={self.last_epoch})"
        )


class ChainedScheduler(LRScheduler):
    """Step several schedules together: one ``step()`` steps each in turn, their factors multiply.

    Use it with the schedules that build on the current rate (StepLR, ExponentialLR, ConstantLR,
    LinearLR, ...), e.g. a ConstantLR warm-up combined with an ExponentialLR decay.

    Args:
        schedulers: the schedules, created on the same optimizer (not ReduceLROnPlateau).
        optimizer: that optimizer (default: the first scheduler's).

    Example:
        >>> import chainrule as cr
        >>> opt = cr.optim.SGD([cr.nn.Parameter([1.0])], lr=1.0)
        >>> warmup = cr.optim.ConstantLR(opt, factor=0.1, total_iters=2)
        >>> decay = cr.optim.ExponentialLR(opt, gamma=0.5)
        >>> sched = cr.optim.ChainedScheduler([warmup, decay])
        >>> lrs = []
        >>> for epoch in range(4):
        ...     lrs.append(round(sched.get_last_lr()[0], 6))
        ...     sched.step()
        >>> lrs
        [0.1, 0.05, 0.25, 0.125]
    """

    def __init__(self, schedulers: Sequence[LRScheduler], optimizer: Optimizer | None = None):
        if optimizer is None and isinstance(schedulers, (list, tuple)) and schedulers:
            optimizer = getattr(schedulers[0], "optimizer", None)  # (else _check_schedulers says what is wrong)
        if optimizer is not None:
            _check_optimizer(self, optimizer)
        self._schedulers = _check_schedulers(self, schedulers, optimizer)
        self.optimizer = optimizer
        self._last_lr = self._current_lrs()

    @replayed
    def step(self) -> None:
        """Step every scheduler, in order."""
        for scheduler in self._schedulers:
            scheduler.step()
        self._last_lr = self._current_lrs()

    def _state_keys(self) -> tuple[str, ...]:
        return ("_last_lr",)

    def state_dict(self) -> dict[str, Any]:
        """The rates set last, with each scheduler's ``state_dict()`` in ``"_schedulers"``."""
        return _container_state(self)

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore what ``state_dict`` saved, the schedulers' states included (nothing changes on error)."""
        _load_container_state(self, state_dict)

    def __repr__(self) -> str:
        return f"{self._name}({self._schedulers!r})"


def _check_schedulers(owner: LRScheduler, schedulers: Any, optimizer: Optimizer) -> list[LRScheduler]:
    """The schedulers a SequentialLR or ChainedScheduler may hold: at least one, all of ``optimizer``."""
    name = type(owner).__name__
    if not isinstance(schedulers, (list, tuple)):
        raise TypeError(f"{name}: schedulers must be a list of schedulers, got {type(schedulers).__name__}")
    if not schedulers:
        raise ValueError(f"{name}: expected at least one scheduler, got none")
    for i, s in enumerate(schedulers):
        if not isinstance(s, LRScheduler):
            raise TypeError(f"{name}: schedulers[{i}] is not a learning-rate scheduler, got {type(s).__name__}")
        if isinstance(s, ReduceLROnPlateau):
            raise ValueError(
                f"{name}: schedulers[{i}] is a ReduceLROnPlateau, which steps with a metric (step(val_loss)); "
                "step it on its own"
            )
        if s.optimizer is not optimizer:
            raise ValueError(f"{name}: schedulers[{i}] ({type(s).__name__}) was created on another optimizer")
    return list(schedulers)


def _container_state(owner: LRScheduler) -> dict[str, Any]:
    state = {key: copy.deepcopy(getattr(owner, key)) for key in owner._state_keys()}
    state["_schedulers"] = [s.state_dict() for s in owner._schedulers]
    return state


def _load_container_state(owner: LRScheduler, state_dict: Mapping[str, Any]) -> None:
    name = f"{type(owner).__name__}.load_state_dict"
    children = state_dict.get("_schedulers") if isinstance(state_dict, Mapping) else None
    if not isinstance(children, (list, tuple)) or len(children) != len(owner._schedulers):
        raise ValueError(
            f"{name}: expected '_schedulers' with the states of {len(owner._schedulers)} schedulers, "
            f"got {children!r:.80}"
        )
    before = [s.state_dict() for s in owner._schedulers]
    try:
        for s, child in zip(owner._schedulers, children):
            s.load_state_dict(child)
        LRScheduler.load_state_dict(owner, {k: v for k, v in state_dict.items() if k != "_schedulers"})
    except BaseException:
        for s, saved in zip(owner._schedulers, before):
            s.load_state_dict(saved)
        raise


def _check_optimizer(scheduler: LRScheduler, optimizer: Any) -> None:
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"{type(scheduler).__name__}: expected an Optimizer, got {type(optimizer).__name__}")


def _check_last_epoch(scheduler: LRScheduler, last_epoch: Any) -> None:
    if not isinstance(last_epoch, numbers.Integral) or isinstance(last_epoch, bool) or last_epoch < -1:
        raise ValueError(f"{type(scheduler).__name__}: invalid last_epoch: {last_epoch!r} (expected an integer >= -1)")


def _check_flag(scheduler: LRScheduler, name: str, value: Any) -> None:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{type(scheduler).__name__}: invalid {name}: {value!r} (expected True or False)")


def _per_group(scheduler: LRScheduler, optimizer: Optimizer, name: str, value: Any) -> list[float]:
    """``value`` for each param group: one number (>= 0) for all, or a list or tuple of one per group."""
    n_groups = len(optimizer.param_groups)
    if isinstance(value, (list, tuple)):
        if len(value) != n_groups:
            raise ValueError(
                f"{type(scheduler).__name__}: expected {n_groups} {name} values (one per param group), got {len(value)}"
            )
        values = list(value)
    else:
        values = [value] * n_groups
    for v in values:
        if not _is_real(v) or v < 0:
            raise ValueError(f"{type(scheduler).__name__}: invalid {name}: {v!r} (expected a number >= 0)")
    return [float(v) for v in values]


def _lambdas(scheduler: LRScheduler, optimizer: Any, lr_lambda: Any) -> list[Callable[[int], float]]:
    """LambdaLR's and MultiplicativeLR's functions: one for all groups, or a list of one per group."""
    name = type(scheduler).__name__
    n_groups = len(optimizer.param_groups) if isinstance(optimizer, Optimizer) else 0
    if callable(lr_lambda):
        lambdas = [lr_lambda] * n_groups
    else:
        lambdas = list(lr_lambda)
        if len(lambdas) != n_groups:
            raise ValueError(f"{name}: expected {n_groups} lr_lambdas (one per param group), got {len(lambdas)}")
    for f in lambdas:
        if not callable(f):
            raise TypeError(f"{name}: lr_lambda must be callable, got {type(f).__name__}")
    return lambdas


def _momenta(
    scheduler: LRScheduler, optimizer: Optimizer, base_momentum: Any, max_momentum: Any
) -> tuple[bool, list[float], list[float]]:
    """CyclicLR's and OneCycleLR's momentum bounds, checked: whether they go to Adam's beta1
    (else to ``momentum``), the base momenta and the maximal ones, one per group."""
    if "betas" not in optimizer.defaults and "momentum" not in optimizer.defaults:
        raise ValueError(
            f"{type(scheduler).__name__}: cycle_momentum=True needs an optimizer with momentum or betas (SGD, RMSprop, "
            f"Adam, AdamW); {type(optimizer).__name__} has neither: pass cycle_momentum=False"
        )
    base = _per_group(scheduler, optimizer, "base_momentum", base_momentum)
    top = _per_group(scheduler, optimizer, "max_momentum", max_momentum)
    return "betas" in optimizer.defaults, base, top


def _start_momenta(optimizer: Optimizer, base: list[float], top: list[float], use_beta1: bool) -> None:
    """Start each group at its maximal momentum, and keep both bounds in the group (as PyTorch's)."""
    for bottom, peak, group in zip(base, top, optimizer.param_groups):
        _set_momentum(group, peak, use_beta1)
        group["max_momentum"] = peak
        group["base_momentum"] = bottom


def _set_momentum(group: dict[str, Any], value: float, use_beta1: bool) -> None:
    if use_beta1:
        group["betas"] = (float(value), *group["betas"][1:])
    else:
        group["momentum"] = float(value)


def _number(value: Any) -> int | float:
    """A plain Python int or float for ``state_dict`` (JSON), from any real number (NumPy's included)."""
    return int(value) if isinstance(value, numbers.Integral) else float(value)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _check_positive(scheduler: LRScheduler, name: str, value: Any) -> None:
    if not _is_real(value) or value <= 0:
        raise ValueError(f"{type(scheduler).__name__}: invalid {name}: {value!r} (expected a number > 0)")


def _check_positive_int(scheduler: LRScheduler, name: str, value: Any) -> None:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{type(scheduler).__name__}: invalid {name}: {value!r} (expected an integer >= 1)")
