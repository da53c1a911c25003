"""experiments.model: parameter-count formula, shapes, dropout placement, memory estimate."""

import dataclasses
import itertools

import pytest
import torch
from torch import nn

from experiments.hyperparams import OPTIMIZERS, PLACEMENTS, LSTMConfig
from experiments.model import LSTMModel, estimate_training_memory, optimizer_state_tensors, param_count
from experiments.sizing import head_outputs


@pytest.mark.parametrize(
    "units, layers, bidirectional, placement, n_features, n_outputs",
    list(itertools.product([1, 7, 32], [1, 2, 3], [False, True], PLACEMENTS, [1, 5], [1, 10])),
)
def test_param_count_formula_matches_torch(units, layers, bidirectional, placement, n_features, n_outputs):
    config = LSTMConfig(units=units, layers=layers, bidirectional=bidirectional, dropout_placement=placement, dropout=0.3)
    model = LSTMModel(config, n_features, n_outputs)
    assert param_count(config, n_features, n_outputs) == sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("layers", [1, 3])
def test_forward_shape(layers, bidirectional):
    model = LSTMModel(LSTMConfig(units=8, layers=layers, bidirectional=bidirectional), n_features=3, n_outputs=4)
    assert model(torch.randn(7, 11, 3)).shape == (7, 4)


def test_head_reads_the_last_layers_final_states_of_both_directions():
    model = LSTMModel(LSTMConfig(units=5, layers=2, bidirectional=True), n_features=2, n_outputs=3).eval()
    x = torch.randn(4, 6, 2)
    seq, (h_n, _) = model.lstm(x)
    forward_last, backward_first = seq[:, -1, :5], seq[:, 0, 5:]  # final states of each direction
    torch.testing.assert_close(torch.cat([h_n[-2], h_n[-1]], dim=1), torch.cat([forward_last, backward_first], dim=1))
    torch.testing.assert_close(model(x), model.head(torch.cat([h_n[-2], h_n[-1]], dim=1)))


def _dropout_rates(model):
    return model.input_dropout.p, model.lstm.dropout, model.output_dropout.p


@pytest.mark.parametrize(
    "placement, layers, rates",
    [
        ("none", 2, (0.0, 0.0, 0.0)),
        ("input", 2, (0.5, 0.0, 0.0)),
        ("between", 2, (0.0, 0.5, 0.0)),
        ("between", 1, (0.0, 0.0, 0.0)),  # needs two layers: trains without dropout
        ("output", 2, (0.0, 0.0, 0.5)),
    ],
)
def test_dropout_acts_only_where_placed(placement, layers, rates):
    model = LSTMModel(LSTMConfig(units=16, layers=layers, dropout_placement=placement, dropout=0.5), 4, 3)
    assert _dropout_rates(model) == rates
    x = torch.randn(8, 10, 4)
    model.train()
    torch.manual_seed(0)
    first = model(x)
    second = model(x)
    assert torch.equal(first, second) == (max(rates) == 0.0)  # dropout makes train-mode passes differ
    model.eval()
    assert torch.equal(model(x), model(x))


def test_invalid_placement_is_refused():
    with pytest.raises(ValueError, match="dropout_placement"):
        LSTMModel(LSTMConfig(dropout_placement="everywhere"), 1, 2)


def test_optimizer_state_tensors():
    def count(optimizer, momentum):
        return optimizer_state_tensors(LSTMConfig(optimizer=optimizer, momentum=momentum))

    assert [count(o, 0.9) for o in OPTIMIZERS] == [1, 2, 2, 1, 2]
    assert [count("sgd", m) for m in (None, 0.0)] == [0, 0]
    assert [count("rmsprop", m) for m in (None, 0.0)] == [1, 1]


def test_memory_estimate_parts_and_scaling():
    config = LSTMConfig(units=64, layers=2, optimizer="adam")
    small = estimate_training_memory(config, 1, 10, timesteps=40, batch_size=32)
    p = param_count(config, 1, 10)
    assert small.weights == small.gradients == 4 * p
    assert small.optimizer_state == 8 * p
    assert small.total == small.weights + small.gradients + small.optimizer_state + small.activations
    large = estimate_training_memory(config, 1, 10, timesteps=40, batch_size=128)
    assert 3.5 < large.activations / small.activations < 4.1  # ~linear in the batch
    sgd = estimate_training_memory(dataclasses.replace(config, optimizer="sgd", momentum=None), 1, 10, 40, 32)
    assert sgd.optimizer_state == 0


def _allocator_peak(config, n_features, n_outputs, timesteps, batch_size, n_static=0, multilabel=False):
    """Peak bytes the torch CPU allocator holds over model creation and two Adam steps (profiler): cross-entropy,
    or for ``multilabel`` binary cross-entropy on ``n_outputs`` labels; ``n_static`` static inputs."""
    try:
        from torch._C._profiler import _EventType
        from torch.profiler import ProfilerActivity, profile
    except ImportError:
        pytest.skip("torch profiler internals moved")
    x = torch.randn(batch_size, timesteps, n_features)
    static = torch.randn(batch_size, n_static) if n_static else None
    if multilabel:
        y = (torch.rand(batch_size, n_outputs) < 0.2).float()
        loss_of = nn.functional.binary_cross_entropy_with_logits
    else:
        y, loss_of = torch.randint(0, n_outputs, (batch_size,)), nn.functional.cross_entropy
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        model = LSTMModel(config, n_features, n_outputs, n_static)
        optimizer = torch.optim.Adam(model.parameters())
        for _ in range(2):
            optimizer.zero_grad(set_to_none=True)
            loss_of(model(x, static), y).backward()
            optimizer.step()

    def walk(nodes):
        for node in nodes:
            yield node
            yield from walk(node.children)

    try:
        events = sorted(
            (n.start_time_ns, n.extra_fields.alloc_size, n.extra_fields.total_allocated)
            for n in walk(prof.profiler.kineto_results.experimental_event_tree())
            if n.tag == _EventType.Allocation
        )
    except AttributeError:
        pytest.skip("torch profiler internals moved")
    start = events[0][2] - events[0][1]
    return max(total for *_, total in events) - start


@pytest.mark.parametrize(
    "config, n_features, timesteps, batch_size",
    [
        (LSTMConfig(units=64), 1, 40, 64),
        (LSTMConfig(units=48, layers=3, bidirectional=True, dropout_placement="between", dropout=0.2), 5, 30, 32),
    ],
)
def test_memory_estimate_is_within_25_percent_of_the_allocator_peak(config, n_features, timesteps, batch_size):
    measured = _allocator_peak(config, n_features, 10, timesteps, batch_size)
    estimate = estimate_training_memory(config, n_features, 10, timesteps, batch_size).total
    assert 0.75 < estimate / measured < 1.25, (estimate, measured)


def test_an_inactive_momentum_trains_without_momentum() -> None:
    """``momentum: {when: {optimizer: sgd}}`` records rmsprop trials without momentum: they train without it."""
    from experiments.hyperparams import LSTMConfig
    from experiments.trainable import make_optimizer

    inactive = LSTMConfig.from_params({"optimizer": "rmsprop", "momentum": None, "units": 8})
    assert inactive.momentum == 0.0
    assert make_optimizer(inactive, [torch.nn.Parameter(torch.zeros(1))]).defaults["momentum"] == 0.0
    assert LSTMConfig.from_params({"optimizer": "sgd"}).momentum == LSTMConfig.momentum  # not searched: default


@pytest.mark.parametrize(
    "units, layers, bidirectional, n_static, static_input, binary_head, n_outputs",
    [(7, 1, False, 3, None, None, 5), (7, 2, True, 3, True, None, 12), (7, 1, False, 3, False, None, 5),
     (5, 2, True, 0, None, "sigmoid1", 2), (5, 1, False, 4, None, "sigmoid1", 2), (5, 1, False, 4, None, "softmax2", 2)],
)
def test_param_count_with_static_inputs_and_binary_heads_matches_torch(units, layers, bidirectional, n_static,
                                                                      static_input, binary_head, n_outputs):
    config = LSTMConfig(units=units, layers=layers, bidirectional=bidirectional, static_input=static_input,
                        binary_head=binary_head)
    model = LSTMModel(config, 2, n_outputs, n_static)
    assert param_count(config, 2, n_outputs, n_static) == sum(p.numel() for p in model.parameters())
    width = 0 if static_input is False else n_static
    assert model.head.in_features == units * (2 if bidirectional else 1) + width
    assert model.head.out_features == (1 if binary_head == "sigmoid1" else n_outputs)


def test_the_head_reads_the_static_inputs_after_the_lstms_state():
    model = LSTMModel(LSTMConfig(units=4, dropout_placement="output", dropout=0.5), 2, 3, n_static=2).eval()
    x, static = torch.randn(5, 6, 2), torch.randn(5, 2)
    _, (h_n, _) = model.lstm(x)
    torch.testing.assert_close(model(x, static), model.head(torch.cat([h_n[-1], static], dim=1)))
    assert model(x, static).shape == (5, 3)
    with pytest.raises(ValueError, match="static inputs per sample"):
        model(x)
    unused = LSTMModel(LSTMConfig(units=4, static_input=False), 2, 3, n_static=2)
    assert unused(x).shape == (5, 3) and unused.static_features == 0


def test_the_sigmoid_head_is_for_two_classes_only():
    assert head_outputs(LSTMConfig(binary_head="sigmoid1"), 2) == 1
    assert head_outputs(LSTMConfig(binary_head="softmax2"), 2) == head_outputs(LSTMConfig(), 2) == 2
    with pytest.raises(ValueError, match="binary_head: sigmoid1 is the head of a two-class problem"):
        LSTMModel(LSTMConfig(binary_head="sigmoid1"), 1, 3)
    with pytest.raises(ValueError, match="binary_head: expected"):
        param_count(LSTMConfig(binary_head="tanh"), 1, 2)


def test_static_inputs_add_to_the_memory_estimate_only_when_there():
    config = LSTMConfig(units=16)
    plain = estimate_training_memory(config, 2, 4, 20, 32)
    assert estimate_training_memory(config, 2, 4, 20, 32, n_static=0) == plain
    assert estimate_training_memory(dataclasses.replace(config, static_input=False), 2, 4, 20, 32, n_static=3) == plain
    more = estimate_training_memory(config, 2, 4, 20, 32, n_static=3)
    assert more.weights - plain.weights == 4 * 3 * 4 and more.activations - plain.activations == 4 * (32 * 3 + 2 * 32 * 19)


@pytest.mark.parametrize(
    "config, n_features, n_labels, n_static, timesteps, batch_size",
    [
        (LSTMConfig(units=32), 2, 6, 2, 24, 64),  # the shipped multi-label example's data, a mid-size trial
        (LSTMConfig(units=64, layers=2, bidirectional=True), 3, 500, 4, 24, 50),  # 500 labels, as the question
    ],
)
def test_multilabel_memory_estimate_is_within_25_percent_of_the_allocator_peak(config, n_features, n_labels,
                                                                               n_static, timesteps, batch_size):
    measured = _allocator_peak(config, n_features, n_labels, timesteps, batch_size, n_static, multilabel=True)
    estimate = estimate_training_memory(config, n_features, n_labels, timesteps, batch_size, n_static).total
    assert 0.75 < estimate / measured < 1.25, (estimate, measured)
