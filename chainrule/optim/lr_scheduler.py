"""Learning-rate schedules: change each param group's ``lr`` once per epoch, as PyTorch's do.

Call ``scheduler.step()`` once per epoch, after the epoch's ``optimizer.step()`` calls
(``ReduceLROnPlateau.step(metric)`` takes the monitored value). Creating a scheduler sets the
learning rate of epoch 0 and records each group's starting rate as ``group["initial_lr"]``.

Like PyTorch's, the multiplicative schedules (StepLR, MultiStepLR, ExponentialLR, LinearLR,
CosineAnnealingLR) compute each new rate from the group's current one, so several schedulers on
one optimiser compose (each applies its factor to what the others left); LambdaLR sets the rate
from the base rate outright.
"""

from __future__ import annotations

import copy
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

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

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1):
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{self._name}: expected an Optimizer, got {type(optimizer).__name__}")
        if not isinstance(last_epoch, numbers.Integral) or last_epoch < -1:
            raise ValueError(f"{self._name}: invalid last_epoch: {last_epoch!r} (expected an integer >= -1)")
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
        self._step_count = 0
        self._last_lr: list[float] = []
        self.step()

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
        """Move to the next epoch and set every group's learning rate for it."""
        self._step_count += 1
        self.last_epoch += 1
        for group, lr in zip(self.optimizer.param_groups, self.get_lr()):
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
        if self.last_epoch == 0:
            return self._current_lrs()
        return [lr * self.gamma for lr in self._current_lrs()]


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
        n_groups = len(optimizer.param_groups) if isinstance(optimizer, Optimizer) else 0
        if callable(lr_lambda):
            lambdas = [lr_lambda] * n_groups
        else:
            lambdas = list(lr_lambda)
            if len(lambdas) != n_groups:
                raise ValueError(
                    f"{self._name}: expected {n_groups} lr_lambdas (one per param group), got {len(lambdas)}"
                )
        for f in lambdas:
            if not callable(f):
                raise TypeError(f"{self._name}: lr_lambda must be callable, got {type(f).__name__}")
        self.lr_lambdas = lambdas
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
        if epoch > self.total_iters:
            return self._current_lrs()
        # the ratio of this epoch's factor to the previous one
        ratio = 1 + (end - start) / (self.total_iters * start + (epoch - 1) * (end - start))
        return [lr * ratio for lr in self._current_lrs()]


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
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{self._name}: expected an Optimizer, got {type(optimizer).__name__}")
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
        n_groups = len(optimizer.param_groups)
        if isinstance(min_lr, (list, tuple)):
            if len(min_lr) != n_groups:
                raise ValueError(
                    f"{self._name}: expected {n_groups} min_lr values (one per param group), got {len(min_lr)}"
                )
            min_lrs = list(min_lr)
        else:
            min_lrs = [min_lr] * n_groups
        for value in min_lrs:
            if not _is_real(value) or value < 0:
                raise ValueError(f"{self._name}: invalid min_lr: {value!r} (expected a number >= 0)")
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


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and math.isfinite(value)


def _check_positive(scheduler: LRScheduler, name: str, value: Any) -> None:
    if not _is_real(value) or value <= 0:
        raise ValueError(f"{type(scheduler).__name__}: invalid {name}: {value!r} (expected a number > 0)")


def _check_positive_int(scheduler: LRScheduler, name: str, value: Any) -> None:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{type(scheduler).__name__}: invalid {name}: {value!r} (expected an integer >= 1)")
