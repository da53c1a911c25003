"""The trainable: one trial trains an :class:`LSTMModel` on a :class:`Dataset` and reports a TrialResult.

:func:`train_trial` trains with early stopping on the validation score, keeps the best epoch's weights
and evaluates the test set once with them. A NaN/inf training loss ends the trial as ``diverged``:
a result of the config, not an exception. The loop is a bare PyTorch loop (tensors moved once per
data set and process, batches by index slicing, one host sync per epoch) so that it costs no speed.

A series (:mod:`experiments.series`) gives each trial the windows of its config. Stateless trials
shuffle them every epoch, each window starting from a zero state; stateful trials run them in order
as parallel streams, carrying (h, c) from batch to batch (:mod:`experiments.stateful`), in training
and in evaluation alike.

A multi-label data set trains one sigmoid logit per label (:mod:`experiments.losses`) and is scored
by :mod:`experiments.multilabel`; a data set's static inputs join the head (:class:`LSTMModel`);
``binary_head: sigmoid1`` trains one logit for two classes, scored from the same probabilities of
the positive class as two logits; ``resample`` draws each epoch's training rows
(:mod:`experiments.resampling`).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Collection, Iterable, Iterator

import numpy as np
import torch
from torch import nn

from experiments.checks import check_config, check_objective
from experiments.losses import (  # noqa: F401 - batch_loss and balanced_class_weights: re-exported
    balanced_class_weights,
    balanced_pos_weights,
    batch_loss,
    multilabel_loss,
    sigmoid_loss,
)
from experiments.splits import Dataset
from experiments.hyperparams import CLASS_WEIGHTS, OPTIMIZERS, RESAMPLES, LSTMConfig
from experiments.metrics import Evaluation, binary_rates
from experiments.model import LSTMModel, estimate_training_memory
from experiments.multilabel import LabelCounts, label_rates
from experiments.resampling import Resampler
from experiments.results import EpochMetrics, RungScore, TrialResult
from experiments.series import SeriesData, StreamDataset
from experiments.settings import METRICS, SCORED_METRICS, TrainingSettings
from experiments.stateful import stream_batches
from experiments.tensors import DatasetTensors, KeepTensors, dataset_tensors, keep_tensors  # noqa: F401 - re-exported


def make_optimizer(config: LSTMConfig, params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
    """The config's optimizer; momentum (sgd, rmsprop) is 0 when inactive (``None``)."""
    lr, weight_decay, momentum = config.lr, config.weight_decay or 0.0, config.momentum or 0.0
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    if config.optimizer == "adagrad":
        return torch.optim.Adagrad(params, lr=lr, weight_decay=weight_decay)
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    raise ValueError(f"optimizer: expected one of {', '.join(OPTIMIZERS)}, got {config.optimizer!r}")


def resolve_device(device: str | None) -> torch.device:
    """``None`` → CUDA when available (Ray hides GPUs a trial was not given), else CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device: {device!r} was asked for, but torch sees no CUDA GPU; use 'cpu'")
    return resolved


def device_name(device: torch.device) -> str:
    """``cpu``, or ``cuda`` and the GPU's name: what a trial records it trained on."""
    return f"cuda ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else device.type


def train_trial(
    config: LSTMConfig,
    data: Dataset | SeriesData,
    training: TrainingSettings,
    metric: str,
    seed: int,
    *,
    threads: int | None = None,
    device: str | None = None,
    on_epoch: Callable[[EpochMetrics], None] | None = None,
    rungs: Collection[int] = (),
    on_rung: Callable[[RungScore], None] | None = None,
    stop: Callable[[int], int | None] | None = None,
) -> TrialResult:
    """Train one trial and return its result; ``on_epoch`` gets each finished epoch's metrics.

    Early termination: at each epoch of ``rungs`` the trial scores the test set with its best weights so far
    and hands ``on_rung`` that :class:`~experiments.results.RungScore`; after each epoch ``stop(epoch)`` may
    name a rung reached (the current epoch or an earlier one) where the trial is stopped: it ends at once,
    with status ``stopped`` and the scores it had at that rung (training is unchanged by any of this).

    ``metric`` is a key of :data:`~experiments.settings.METRICS` and must suit ``data.task``.
    ``seed`` fixes initialisation, dropout and batch order: on CPU the same seed and threads give the
    same result. ``threads`` sets torch's intra-op threads for the call. ``device``: see
    :func:`resolve_device`; on CUDA the forward pass runs in float16 autocast with a gradient scaler.
    The trial trains on ``data.for_trial(config)`` (a series' windows for this config); a window or an
    objective that data cannot serve raises :class:`~experiments.errors.DataError` before training.

    ``training.flush_denormal`` (default) computes subnormal floats as zero on the CPU: where a model's
    values decay into that range (seen with RMSprop on the imbalanced example) each step otherwise
    takes up to 12 times as long; it changes no result that has no subnormal value in it.

    ``class_weight="balanced"`` weights the training loss (:func:`balanced_class_weights`; multi-label:
    :func:`~experiments.losses.balanced_pos_weights`); the validation and test losses stay unweighted,
    so that they compare across trials. ``resample`` draws each epoch's training rows anew
    (:class:`~experiments.resampling.Resampler`), from a generator seeded by ``seed``; the class
    weights are those of the training part as it is, so both together weigh the rarer class twice over.

    Diverged (NaN/inf training loss, parameters or validation loss): status ``diverged``, scores
    ``None``, ``best_epoch`` the best finite epoch before (0 if none), and a message saying where.
    """
    started, started_cpu = time.perf_counter(), time.process_time()
    direction, needs = METRICS.get(metric, (None, None))
    if direction is None:
        raise ValueError(f"metric: expected one of {', '.join(METRICS)}, got {metric!r}")
    if needs is not None and needs != data.task:
        raise ValueError(f"metric: {metric!r} needs a {needs} data set, but {data.name!r} is {data.task}")
    if config.class_weight not in CLASS_WEIGHTS:
        raise ValueError(f"class_weight: expected one of {', '.join(CLASS_WEIGHTS)}, got {config.class_weight!r}")
    if config.class_weight != "none" and data.task != "classification":
        raise ValueError(f"class_weight: {config.class_weight!r} weights classes, but {data.name!r} is {data.task}; use none")
    if not isinstance(data, SeriesData) and (config.stateful or config.window is not None):
        name, fix = ("stateful", "false") if config.stateful else ("window", "null")
        raise ValueError(f"{name}: acts on the windows of a series, but {data.name!r} is not a series; use {fix}")
    if config.resample not in (None, *RESAMPLES):
        raise ValueError(f"resample: expected one of {', '.join(RESAMPLES)}, got {config.resample!r}")
    if config.stateful and config.resample not in (None, "none"):
        raise ValueError(f"resample: {config.resample!r} acts on stateless trials (a stateful one reads its windows in "
                         f"time order; normalize records it as None); use none")
    check_config(data, config)
    data = data.for_trial(config)
    check_objective(data, metric)
    previous_threads, previous_flush = torch.get_num_threads(), _flushing_denormals()
    if threads is not None:
        torch.set_num_threads(threads)
    torch.set_flush_denormal(training.flush_denormal)  # this thread's
    try:
        trial = _Trial(config, data, training, metric, seed, resolve_device(device))
        return trial.run(on_epoch, started, started_cpu, frozenset(rungs), on_rung, stop)
    finally:
        if threads is not None:
            torch.set_num_threads(previous_threads)
        torch.set_flush_denormal(previous_flush)


def _flushing_denormals() -> bool:
    """Whether this thread computes subnormal floats as zero (torch has no getter for it)."""
    return torch.tensor([1e-40]).mul(1.0).item() == 0.0


class _Trial:
    """The state of one training run; :meth:`run` is the loop."""

    def __init__(self, config, data, training, metric, seed, device):
        self.config, self.data, self.training, self.metric = config, data, training, metric
        self.maximize = METRICS[metric][0] == "max"
        init_seed, shuffle_seed = (int(s) for s in np.random.SeedSequence(seed).generate_state(2, np.uint64))
        torch.manual_seed(init_seed)  # initialisation and dropout
        np.random.seed(init_seed % 2**32)
        self.shuffle = torch.Generator().manual_seed(shuffle_seed)
        self.device = device
        self.tensors = dataset_tensors(data, device)
        self.keep = keep_tensors(data, device) if isinstance(data, StreamDataset) else None
        self.sigmoid = config.binary_head == "sigmoid1"
        self.class_weight = None
        if config.class_weight == "balanced":
            weights = (balanced_pos_weights(data.y_train) if data.multilabel
                       else balanced_class_weights(data.y_train, data.n_classes))
            self.class_weight = torch.from_numpy(weights).to(device)
        self.resampler = None
        if config.resample not in (None, "none"):
            self.resampler = Resampler(data.y_train, config.resample, np.random.default_rng(
                np.random.SeedSequence(seed).spawn(1)[0]))
        self.model = LSTMModel(config, data.features, data.n_outputs, data.static_features).to(device)
        self.static = {split: getattr(self.tensors, f"static_{split}") if self.model.static_features else None
                       for split in ("train", "val", "test")}
        self.params = list(self.model.parameters())
        self.optimizer = make_optimizer(config, self.params)
        amp = device.type == "cuda"
        self.autocast = torch.autocast("cuda", dtype=torch.float16) if amp else contextlib.nullcontext()
        self.scaler = torch.amp.GradScaler("cuda", enabled=amp)

    def run(self, on_epoch, started: float, started_cpu: float, rungs: frozenset[int] = frozenset(),
            on_rung=None, stop=None) -> TrialResult:
        best_epoch, best_score, best_state = 0, math.nan, None
        at_rung: dict[int, RungScore] = {}
        stopped: RungScore | None = None
        train_seconds = 0.0
        message = None
        n = len(self.tensors.y_train) if self.resampler is None else self.resampler.size  # training rows an epoch
        epoch = 0
        for epoch in range(1, self.training.max_epochs + 1):
            epoch_start = time.perf_counter()
            train_epoch = self._train_epoch if self.keep is None else self._train_epoch_stateful
            losses = train_epoch().float().cpu().numpy()  # the epoch's one host sync
            train_seconds += time.perf_counter() - epoch_start
            message = self._divergence(losses, epoch)
            if message is None:
                val = self._evaluate("val")
                if not math.isfinite(val.loss):
                    message = f"validation loss became {val.loss} at epoch {epoch}"
            if message is not None:
                if best_state is not None:
                    message += f" (best validation {self.metric} before: {best_score:.4g} at epoch {best_epoch})"
                break
            val_score = val.score(self.metric)
            if on_epoch is not None:
                train_loss = float(losses @ self._batch_sizes(n) / n)
                on_epoch(self._epoch_metrics(epoch, train_loss, val, val_score, time.perf_counter() - epoch_start))
            improved = best_state is None or (val_score > best_score if self.maximize else val_score < best_score)
            if improved:
                best_epoch, best_score = epoch, val_score
                best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
            if epoch in rungs:
                at_rung[epoch] = RungScore(epoch, best_epoch, best_score, self._test_score(best_state))
                if on_rung is not None:
                    on_rung(at_rung[epoch])
            if stop is not None and (rung := stop(epoch)) is not None:
                stopped = at_rung[rung]
                break
            if not improved and self.training.patience is not None and epoch - best_epoch >= self.training.patience:
                break

        test_score = None
        if message is None and stopped is None:
            self.model.load_state_dict(best_state)
            test_score = self._evaluate("test").score(self.metric)
        data, config = self.data, self.config
        result = TrialResult(
            status="ok" if message is None else "diverged",
            val_score=None if message else best_score,
            test_score=test_score,
            val_n=data.sizes.val,
            test_n=data.sizes.test,
            epochs=epoch,
            best_epoch=best_epoch,
            param_count=sum(p.numel() for p in self.model.parameters()),
            memory_estimate_bytes=estimate_training_memory(
                config, data.features, data.n_outputs, data.timesteps, config.batch_size, data.static_features
            ).total,
            train_seconds=time.perf_counter() - started,
            cpu_seconds=time.process_time() - started_cpu,
            samples_per_second=n * epoch / train_seconds if train_seconds > 0 else 0.0,
            device=device_name(self.device),
            message=message,
        )
        return result if stopped is None else result.stopped_at(stopped)

    def _test_score(self, state: dict[str, torch.Tensor]) -> float:
        """The test score of the weights ``state``; the model is left as it was (training goes on unchanged)."""
        current = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        self.model.load_state_dict(state)
        score = self._evaluate("test").score(self.metric)
        self.model.load_state_dict(current)
        return score

    def _epoch_metrics(self, epoch: int, train_loss: float, val: Evaluation, val_score: float,
                       seconds: float) -> EpochMetrics:
        if self.data.multilabel:
            rates = label_rates(val.label_counts, "the validation split")
            return EpochMetrics(epoch, train_loss, val.loss, val_score, seconds, rates.mean_sensitivity,
                                rates.mean_specificity, rates.note)
        if self.data.n_classes != 2:
            return EpochMetrics(epoch, train_loss, val.loss, val_score, seconds)
        rates = binary_rates(val.confusion, "the validation split")
        return EpochMetrics(epoch, train_loss, val.loss, val_score, seconds, rates.sensitivity, rates.specificity,
                            rates.note)

    def _batch_sizes(self, n: int) -> np.ndarray:
        size = self.config.batch_size if self.keep is None else self.data.streams_train
        sizes = np.full(-(-n // size), size, dtype=np.float32)
        sizes[-1] = n - size * (len(sizes) - 1)
        return sizes

    def _train_epoch(self) -> torch.Tensor:
        """One pass over the training set (or this epoch's resampled rows) in a seeded random order; returns
        each step's loss (on device)."""
        x, y, static = self.tensors.x_train, self.tensors.y_train, self.static["train"]
        model = self.model
        if self.resampler is None:
            perm = torch.randperm(len(y), generator=self.shuffle).to(self.device, non_blocking=True)
        else:
            rows = torch.from_numpy(self.resampler.draw()).to(self.device)
            perm = rows[torch.randperm(len(rows), generator=self.shuffle).to(self.device, non_blocking=True)]
        size = self.config.batch_size
        losses = []
        model.train()
        for start in range(0, len(perm), size):
            idx = perm[start : start + size]
            self.optimizer.zero_grad(set_to_none=True)
            with self.autocast:
                out = model(x[idx]) if static is None else model(x[idx], static[idx])
            loss = self._loss(out.float(), y[idx])
            self._step(loss)
            losses.append(loss.detach())
        return torch.stack(losses)

    def _train_epoch_stateful(self) -> torch.Tensor:
        """One pass over the training streams in order, state carried; returns each step's loss (on device)."""
        x, y = self.tensors.x_train, self.tensors.y_train
        losses = []
        self.model.train()
        for rows, out in stream_batches(self.model, x, self.keep.train, self.data.streams_train, self.autocast,
                                        self.static["train"]):
            self.optimizer.zero_grad(set_to_none=True)  # before backward; the forward pass left no gradient
            loss = self._loss(out.float(), y[rows])
            self._step(loss)
            losses.append(loss.detach())
        return torch.stack(losses)

    def _loss(self, out: torch.Tensor, y: torch.Tensor, reduction: str = "mean", train: bool = True) -> torch.Tensor:
        """The head's loss (:mod:`experiments.losses`); class-weighted in training only."""
        weight = self.class_weight if train else None
        if self.data.multilabel:
            return multilabel_loss(out, y, reduction, pos_weight=weight)
        if self.sigmoid:
            return sigmoid_loss(out, y, reduction, weight)
        return batch_loss(self.data.task, out, y, reduction=reduction, weight=weight)

    def _step(self, loss: torch.Tensor) -> None:
        """Backward pass, gradient clipping and the optimizer's step."""
        optimizer, scaler, clip = self.optimizer, self.scaler, self.training.grad_clip
        scaler.scale(loss).backward()
        if clip is not None:
            scaler.unscale_(optimizer)
            nn.utils.clip_grad_norm_(self.params, clip)
        scaler.step(optimizer)
        scaler.update()

    def _divergence(self, losses: np.ndarray, epoch: int) -> str | None:
        """Why this epoch diverged (first non-finite step loss, or non-finite parameters), or None."""
        bad = ~np.isfinite(losses)
        if bad.any():
            step = int(np.argmax(bad))
            return f"training loss became {losses[step]} at epoch {epoch}, step {step + 1}"
        finite = torch.stack([torch.isfinite(p).all() for p in self.model.parameters()]).all()
        if not bool(finite):
            return f"parameters became non-finite at epoch {epoch} while the training loss stayed finite"
        return None

    def _batches(self, split: str) -> Iterator[tuple[slice, torch.Tensor]]:
        """(rows, outputs) over a split in order: eval_batch_size rows a batch, or the streams of a stateful trial."""
        x, static = getattr(self.tensors, f"x_{split}"), self.static[split]
        if self.keep is not None:
            yield from stream_batches(self.model, x, getattr(self.keep, split), getattr(self.data, f"streams_{split}"),
                                      self.autocast, static)
            return
        size = self.training.eval_batch_size
        for start in range(0, len(x), size):
            rows = slice(start, start + size)
            with self.autocast:
                out = self.model(x[rows]) if static is None else self.model(x[rows], static[rows])
            yield rows, out

    @torch.inference_mode()
    def _evaluate(self, split: str) -> Evaluation:
        """Mean loss over a split and, for a classification, its confusion matrix (and class-1 scores
        for a binary metric), with one host sync. Class 1 is predicted where its probability exceeds
        1/2 (two logits: the larger one; one sigmoid logit: above 0)."""
        if self.data.multilabel:
            return self._evaluate_multilabel(split)
        y = getattr(self.tensors, f"y_{split}")
        classify = self.data.task == "classification"
        k = self.data.n_classes
        keep_scores = self.metric in SCORED_METRICS
        self.model.eval()
        loss_sum = torch.zeros((), device=self.device)
        confusion = torch.zeros(k * k if classify else 0, dtype=torch.int64, device=self.device)
        scores = []
        for rows, out in self._batches(split):
            out, yb = out.float(), y[rows]
            loss_sum += self._loss(out, yb, reduction="sum", train=False)
            if classify:
                predicted = (out[:, 0] > 0).long() if self.sigmoid else out.argmax(dim=1)
                confusion += torch.bincount(yb * k + predicted, minlength=k * k)
            if keep_scores:  # log-odds of class 1: ranks as its probability does
                scores.append(out[:, 0] if self.sigmoid else out[:, 1] - out[:, 0])
        self.model.train()
        host = torch.cat([loss_sum.double().view(1), confusion.double(), *(s.double() for s in scores)]).cpu().numpy()
        loss = float(host[0]) / len(y)
        if not classify:
            return Evaluation(loss)
        labels = getattr(self.data, f"y_{split}") if keep_scores else None
        return Evaluation(loss, host[1 : 1 + k * k].astype(np.int64).reshape(k, k), labels,
                          host[1 + k * k :] if keep_scores else None)

    @torch.inference_mode()
    def _evaluate_multilabel(self, split: str) -> Evaluation:
        """Mean loss over a split's entries and its per-label counts (and every label's scores for the
        macro AUROC), with one host sync; a label is predicted where its logit is above 0."""
        y, n_labels = getattr(self.tensors, f"y_{split}"), self.data.n_labels
        keep_scores = self.metric in SCORED_METRICS
        self.model.eval()
        loss_sum = torch.zeros((), device=self.device)
        counts = torch.zeros(4, n_labels, dtype=torch.int64, device=self.device)
        exact = torch.zeros((), dtype=torch.int64, device=self.device)
        scores = []
        for rows, out in self._batches(split):
            out, yb = out.float(), y[rows]
            loss_sum += multilabel_loss(out, yb, reduction="sum")
            predicted, truth = out > 0, yb > 0.5
            counts += torch.stack([(truth & predicted).sum(0), (~truth & predicted).sum(0), (truth & ~predicted).sum(0),
                                   (~truth & ~predicted).sum(0)])
            exact += (truth == predicted).all(dim=1).sum()
            if keep_scores:
                scores.append(out.flatten())
        self.model.train()
        host = torch.cat([loss_sum.double().view(1), exact.double().view(1), counts.double().flatten(),
                          *(s.double() for s in scores)]).cpu().numpy()
        tp, fp, fn, tn = host[2 : 2 + 4 * n_labels].astype(np.int64).reshape(4, n_labels)
        labels = getattr(self.data, f"y_{split}") if keep_scores else None
        return Evaluation(float(host[0]) / (len(y) * n_labels), labels=labels,
                          scores=host[2 + 4 * n_labels :].reshape(-1, n_labels) if keep_scores else None,
                          label_counts=LabelCounts(tp, fp, fn, tn, int(host[1])))
