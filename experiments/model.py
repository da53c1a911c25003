"""The LSTM model family: :class:`LSTMModel`, its parameter count and its training-memory estimate.

The model reads a batch (batch, timesteps, features) with ``nn.LSTM`` (cuDNN on GPU, oneDNN on CPU)
and maps the last layer's final hidden state(s) to ``n_outputs`` with a linear head: one prediction
per window, from its last step. A data set's static inputs (one vector per sample) are concatenated
to that state before the head. :meth:`LSTMModel.step` also starts from a given (h, c) and returns
the final one, for stateful training over consecutive windows (:mod:`experiments.stateful`).
"""

from __future__ import annotations

import torch
from torch import nn

from experiments.hyperparams import LSTMConfig, dropout_at
from experiments.sizing import (  # noqa: F401 - re-exported: the model's sizes by formula
    FLOAT32_BYTES,
    MemoryEstimate,
    estimate_training_memory,
    head_outputs,
    optimizer_state_tensors,
    param_count,
    static_width,
)


class LSTMModel(nn.Module):
    """Dropout (per ``config.dropout_placement``) → ``nn.LSTM`` → dropout → linear head.

    ``input``: dropout on the inputs; ``between``: ``nn.LSTM``'s dropout between stacked layers;
    ``output``: dropout on the final hidden state; ``none``: no dropout. Bidirectional models feed
    the head both directions' final hidden states of the last layer, concatenated. With ``n_static``
    static inputs (and ``static_input`` not false) the head reads them after that state (after its
    ``output`` dropout): ``forward(x, static)`` with ``static`` (batch, n_static).
    Returns (batch, head outputs): ``n_outputs``, or 1 for ``binary_head: sigmoid1``.
    """

    def __init__(self, config: LSTMConfig, n_features: int, n_outputs: int, n_static: int = 0):
        super().__init__()
        if n_features < 1 or n_outputs < 1:
            raise ValueError(f"n_features and n_outputs must be >= 1, got {n_features} and {n_outputs}")
        self.directions = 2 if config.bidirectional else 1
        self.input_dropout = nn.Dropout(dropout_at(config, "input"))
        self.lstm = nn.LSTM(
            n_features,
            config.units,
            num_layers=config.layers,
            batch_first=True,
            bidirectional=config.bidirectional,
            dropout=dropout_at(config, "between"),
        )
        self.output_dropout = nn.Dropout(dropout_at(config, "output"))
        self.static_features = static_width(config, n_static)
        self.head = nn.Linear(config.units * self.directions + self.static_features, head_outputs(config, n_outputs))

    def forward(self, x: torch.Tensor, static: torch.Tensor | None = None) -> torch.Tensor:
        _, (h_n, _) = self.lstm(self.input_dropout(x))
        return self._head(h_n, x.shape[0], static)

    def step(self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor], static: torch.Tensor | None = None
             ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Predictions for ``x`` read from ``state`` = (h_0, c_0), and the final (h_n, c_n).

        Both states are (layers * directions, batch, units), as ``nn.LSTM`` takes and returns them.
        """
        _, (h_n, c_n) = self.lstm(self.input_dropout(x), state)
        return self._head(h_n, x.shape[0], static), (h_n, c_n)

    def _head(self, h_n: torch.Tensor, batch: int, static: torch.Tensor | None) -> torch.Tensor:
        # h_n: (layers * directions, batch, units); the last layer's directions are its last rows.
        last = h_n[-self.directions :].transpose(0, 1).reshape(batch, -1)
        if not self.static_features:
            return self.head(self.output_dropout(last))
        if static is None or static.shape != (batch, self.static_features):
            got = None if static is None else tuple(static.shape)
            raise ValueError(f"static: the head reads {self.static_features} static inputs per sample, "
                             f"expected shape {(batch, self.static_features)}, got {got}")
        return self.head(torch.cat([self.output_dropout(last), static.to(last.dtype)], dim=1))
