"""What an LSTM of the family weighs, by formula: its parameter count and its training-memory estimate.

Pure Python (no torch), so a sweep can be sized before anything is trained (:mod:`experiments.cost`);
:mod:`experiments.model` re-exports these names.
"""

from __future__ import annotations

from dataclasses import dataclass

from experiments.hyperparams import LSTMConfig, dropout_at

FLOAT32_BYTES = 4


def head_outputs(config: LSTMConfig, n_outputs: int) -> int:
    """Logits of the head for a data set of ``n_outputs`` (classes, labels, or 1): one for ``binary_head:
    sigmoid1`` (two classes only), else ``n_outputs``."""
    if config.binary_head in (None, "softmax2"):
        return n_outputs
    if config.binary_head != "sigmoid1":
        raise ValueError(f"binary_head: expected softmax2 or sigmoid1, got {config.binary_head!r}")
    if n_outputs != 2:
        raise ValueError(f"binary_head: sigmoid1 is the head of a two-class problem, got {n_outputs} outputs")
    return 1


def static_width(config: LSTMConfig, n_static: int) -> int:
    """Static inputs the head reads beside the LSTM's final state: the data set's ``n_static``, or none
    with ``static_input: false``."""
    return 0 if config.static_input is False else n_static


def param_count(config: LSTMConfig, n_features: int, n_outputs: int, n_static: int = 0) -> int:
    """Trainable parameters of ``LSTMModel(config, n_features, n_outputs, n_static)``, by formula.

    Per layer and direction ``4h(i + h + 2)`` (input and recurrent weights of the four gates and
    torch's two bias vectors), with ``i = n_features`` for the first layer and ``h * directions``
    above; plus the head ``(h * directions + s + 1) * o`` with ``s`` = :func:`static_width` and
    ``o`` = :func:`head_outputs`.
    """
    h, d = config.units, 2 if config.bidirectional else 1
    total = 0
    for layer in range(config.layers):
        i = n_features if layer == 0 else h * d
        total += d * 4 * h * (i + h + 2)
    return total + (h * d + static_width(config, n_static) + 1) * head_outputs(config, n_outputs)


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes one training step needs at its peak (float32), by part."""

    weights: int
    gradients: int
    optimizer_state: int
    activations: int

    @property
    def total(self) -> int:
        return self.weights + self.gradients + self.optimizer_state + self.activations


def optimizer_state_tensors(config: LSTMConfig) -> int:
    """Tensors of the size of the parameters that the optimizer keeps."""
    momentum = bool(config.momentum)
    return {
        "adam": 2,
        "adamw": 2,
        "adagrad": 1,
        "sgd": 1 if momentum else 0,
        "rmsprop": 2 if momentum else 1,
    }[config.optimizer]


def estimate_training_memory(
    config: LSTMConfig, n_features: int, n_outputs: int, timesteps: int, batch_size: int, n_static: int = 0
) -> MemoryEstimate:
    """Estimated peak memory of one CPU training step, float32; the data set and torch itself excluded.

    With P = :func:`param_count`, B = batch, T = timesteps, h = units, d = directions, L = layers,
    i_l = input width of layer l (``n_features``, then ``h·d``), all in floats of 4 bytes:

    * weights = gradients = P; optimizer state = P × its state tensors (adam/adamw 2, adagrad 1,
      sgd 1 with momentum else 0, rmsprop 1, +1 with momentum).
    * activations, what autograd keeps for the backward pass of ``nn.LSTM`` on oneDNN:
      per layer and direction the workspace ``B·(T+1)·(9h + 6·max(i_l, h))`` (gates, hidden and
      cell states of every step) and ``1.5·B·T·h`` (the layer's output and its gradient); plus the
      transient of the first backward layer, ``6·B·T·h`` scratch and one layer-direction's weights
      ``4h(i + h + 2)`` reordered; plus ``B·T·F`` input, and dropout's kept output and bool mask
      (1.25 floats an element) for ``input`` (B·T·F) and ``between`` ((L−1)·B·T·h·d) placements.
    * with s static inputs (:func:`static_width`), their batch and the head's input they are
      concatenated into, with its gradient: ``B·s + 2·B·(h·d + s)``.

    Calibrated against the peak of the torch CPU allocator (``total_allocated`` of the profiler's
    allocation events) over 212 configs (h 32–256, L 1–3, uni/bidirectional, T 10–100, B 32–128,
    F 1–16): within −8%…+7%; on random held-out configs (h to 384, L to 4, T to 150, every
    placement and optimizer) within −3%…+8%. Peak RSS grows less, as oneDNN leaves part of its
    workspace untouched; on cuDNN the workspace differs. Both: treat this as an upper bound there.
    """
    h, d, L = config.units, 2 if config.bidirectional else 1, config.layers
    B, T, F = batch_size, timesteps, n_features
    p = param_count(config, n_features, n_outputs, n_static)
    floats = 0.0
    for layer in range(L):
        i = F if layer == 0 else h * d
        floats += d * (B * (T + 1) * (9 * h + 6 * max(i, h)) + 1.5 * B * T * h)
    widest = F if L == 1 else h * d
    floats += 6 * B * T * h + 4 * h * (widest + h + 2) + B * T * F
    floats += 1.25 * B * T * F * (dropout_at(config, "input") > 0)
    floats += 1.25 * (L - 1) * B * T * h * d * (dropout_at(config, "between") > 0)
    s = static_width(config, n_static)
    if s:
        floats += B * s + 2 * B * (h * d + s)
    return MemoryEstimate(
        weights=FLOAT32_BYTES * p,
        gradients=FLOAT32_BYTES * p,
        optimizer_state=FLOAT32_BYTES * p * optimizer_state_tensors(config),
        activations=int(FLOAT32_BYTES * floats),
    )
