"""Stateful passes over a :class:`~experiments.series.StreamDataset`: (h, c) carried from batch to batch.

A split's rows are consecutive windows laid out as B parallel streams (:mod:`experiments.series`):
batch t is rows ``t·B .. (t+1)·B``, and its row i continues batch t−1's row i. :func:`stream_batches`
runs the model over them in order, each batch starting from the previous batch's final state,
detached (gradients stop at the batch), zero at the first batch and wherever a window starts a
series. A bidirectional model carries its forward direction only: the backward direction reads each
window from its end, where no earlier state exists, so it starts from zero in every window.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from experiments.model import LSTMModel

State = tuple[torch.Tensor, torch.Tensor]


def stream_batches(
    model: LSTMModel,
    x: torch.Tensor,
    keep: torch.Tensor,
    streams: int,
    autocast: contextlib.AbstractContextManager | None = None,
    static: torch.Tensor | None = None,
) -> Iterator[tuple[slice, torch.Tensor]]:
    """Yield (rows, predictions) batch by batch over ``x`` (rows in stream order), carrying the state.

    ``keep``: float per row, 0 where the row's window starts a series (its state is reset), else 1.
    ``static``: the rows' static inputs, in the same order, when the model reads them.
    The predictions keep their graph (for a training step); the carried state does not.
    """
    lstm = model.lstm
    layers_directions = lstm.num_layers * (2 if lstm.bidirectional else 1)
    # (layers · directions, 1, 1): 1 for forward-direction rows of h and c, 0 for backward ones
    forward_only = torch.tensor([1.0, 0.0] * lstm.num_layers, device=x.device).view(-1, 1, 1) if lstm.bidirectional else None
    h = torch.zeros(layers_directions, streams, lstm.hidden_size, device=x.device)
    state = (h, torch.zeros_like(h))
    for start in range(0, len(x), streams):
        rows = slice(start, min(start + streams, len(x)))
        n = rows.stop - start
        mask = keep[rows].view(1, n, 1)
        if forward_only is not None:
            mask = mask * forward_only
        state = (state[0][:, :n] * mask, state[1][:, :n] * mask)
        with autocast or contextlib.nullcontext():
            out, (h_n, c_n) = model.step(x[rows], state) if static is None else model.step(x[rows], state, static[rows])
        state = (h_n.detach().float(), c_n.detach().float())
        yield rows, out
