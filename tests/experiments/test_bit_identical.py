"""The default training path is bit-identical to the one that produced the shipped study's trials.

REFERENCE was produced by running the calls of :func:`_run` and :func:`datasets` below on commit
afa047c (before time series, stateful training, class weights and the new metrics), with torch
2.13.0 CPU and one thread on the project's x86-64 development machine: ``train_trial`` with seed 11
and ``max_epochs=3`` (patience 5) for each config × (MNIST-1D of 400 samples: accuracy and loss;
the adding problem of length 20: mse; an ``.npz`` of 60 random samples of 3 classes: accuracy).
Values: validation and test score, epochs, best epoch, parameter count, memory estimate, and the
per-epoch training and validation losses.

The new hyperparameters stay at their defaults here (window None, stateful False, class_weight
"none"); every value must match exactly. Float results of another CPU or torch build may differ in
the last bits: regenerate REFERENCE there from commit afa047c, never from the code under test.
"""

import numpy as np
import pytest

from experiments.datasets import load_dataset
from experiments.hyperparams import LSTMConfig
from experiments.settings import MNIST1D, Adding, NpzFile, TrainingSettings
from experiments.trainable import train_trial

CONFIGS = {
    "sgd_momentum": LSTMConfig(units=16, optimizer="sgd", lr=0.05, momentum=0.9, batch_size=32),
    "adam_between": LSTMConfig(units=16, layers=2, dropout_placement="between", dropout=0.3, optimizer="adam",
                               lr=3e-3, batch_size=64),
    "adamw_input_bi": LSTMConfig(units=12, dropout_placement="input", dropout=0.2, bidirectional=True,
                                 optimizer="adamw", lr=5e-3, weight_decay=1e-2, batch_size=32),
    "rmsprop_output_bi": LSTMConfig(units=10, layers=2, dropout_placement="output", dropout=0.25, bidirectional=True,
                                    optimizer="rmsprop", lr=2e-3, momentum=0.5, batch_size=48),
    "adagrad": LSTMConfig(units=8, optimizer="adagrad", lr=2e-2, batch_size=16),
    "sgd_plain_between_bi": LSTMConfig(units=8, layers=2, dropout_placement="between", dropout=0.1, bidirectional=True,
                                       optimizer="sgd", lr=0.1, momentum=None, batch_size=64),
}

# key: dataset/metric/config → (val, test, epochs, best_epoch, param_count, memory_estimate_bytes,
#                                per-epoch train_loss, per-epoch val_loss)
REFERENCE = {
    "mnist1d/accuracy/sgd_momentum": (0.140625, 0.1, 3, 1, 1386, 1900536,
        [2.3156111240386963, 2.3047730922698975, 2.301156520843506],
        [2.3037893772125244, 2.3152570724487305, 2.328146457672119]),
    "mnist1d/accuracy/adam_between": (0.09375, 0.0875, 3, 1, 3562, 6793376,
        [2.30362868309021, 2.3007311820983887, 2.2998743057250977],
        [2.3315682411193848, 2.3319332599639893, 2.332887887954712]),
    "mnist1d/accuracy/adamw_input_bi": (0.109375, 0.05, 3, 1, 1690, 2483680,
        [2.3114757537841797, 2.3011443614959717, 2.2951250076293945],
        [2.3089375495910645, 2.316235065460205, 2.325282096862793]),
    "mnist1d/accuracy/rmsprop_output_bi": (0.109375, 0.075, 3, 3, 3810, 6663200,
        [2.320096969604492, 2.3041982650756836, 2.255256414413452],
        [2.3443796634674072, 2.331740617752075, 2.322511911392212]),
    "mnist1d/accuracy/adagrad": (0.125, 0.05, 3, 1, 442, 477752,
        [2.3367676734924316, 2.3176708221435547, 2.3080427646636963],
        [2.2895572185516357, 2.3015317916870117, 2.3123719692230225]),
    "mnist1d/accuracy/sgd_plain_between_bi": (0.140625, 0.0625, 3, 1, 2538, 7267408,
        [2.3132195472717285, 2.311924457550049, 2.310352087020874],
        [2.2918009757995605, 2.293630599975586, 2.295435905456543]),
    "mnist1d/loss/sgd_momentum": (2.3037893772125244, 2.3123058319091796, 3, 1, 1386, 1900536,
        [2.3156111240386963, 2.3047730922698975, 2.301156520843506],
        [2.3037893772125244, 2.3152570724487305, 2.328146457672119]),
    "mnist1d/loss/adam_between": (2.3315682411193848, 2.3282630920410154, 3, 1, 3562, 6793376,
        [2.30362868309021, 2.3007311820983887, 2.2998743057250977],
        [2.3315682411193848, 2.3319332599639893, 2.332887887954712]),
    "mnist1d/loss/adamw_input_bi": (2.3089375495910645, 2.3046478271484374, 3, 1, 1690, 2483680,
        [2.3114757537841797, 2.3011443614959717, 2.2951250076293945],
        [2.3089375495910645, 2.316235065460205, 2.325282096862793]),
    "mnist1d/loss/rmsprop_output_bi": (2.322511911392212, 2.2944849014282225, 3, 3, 3810, 6663200,
        [2.320096969604492, 2.3041982650756836, 2.255256414413452],
        [2.3443796634674072, 2.331740617752075, 2.322511911392212]),
    "mnist1d/loss/adagrad": (2.2895572185516357, 2.326279640197754, 3, 1, 442, 477752,
        [2.3367676734924316, 2.3176708221435547, 2.3080427646636963],
        [2.2895572185516357, 2.3015317916870117, 2.3123719692230225]),
    "mnist1d/loss/sgd_plain_between_bi": (2.2918009757995605, 2.312415885925293, 3, 1, 2538, 7267408,
        [2.3132195472717285, 2.311924457550049, 2.310352087020874],
        [2.2918009757995605, 2.293630599975586, 2.295435905456543]),
    "adding/mse/sgd_momentum": (0.2021053886413574, 0.21590288162231444, 3, 2, 1297, 978124,
        [0.6508358716964722, 0.2900716960430145, 0.20420654118061066],
        [0.4760243225097656, 0.2021053886413574, 0.21137969970703124]),
    "adding/mse/adam_between": (0.2156361770629883, 0.23838407516479493, 3, 3, 3473, 3494672,
        [1.0289167165756226, 0.7430050373077393, 0.4458034634590149],
        [0.7345144653320312, 0.474753303527832, 0.2156361770629883]),
    "adding/mse/adamw_input_bi": (0.16901151657104493, 0.15336706161499022, 3, 3, 1561, 1283728,
        [1.002060890197754, 0.30244022607803345, 0.22288891673088074],
        [0.46630279541015623, 0.2864767265319824, 0.16901151657104493]),
    "adding/mse/rmsprop_output_bi": (0.1724851417541504, 0.1603280258178711, 3, 1, 3701, 3435856,
        [0.4617668688297272, 0.21551212668418884, 0.2256847321987152],
        [0.1724851417541504, 0.17339635848999024, 0.17359989166259765]),
    "adding/mse/adagrad": (0.17166316986083985, 0.1436435317993164, 3, 2, 393, 246892,
        [0.46921229362487793, 0.19077979028224945, 0.18874692916870117],
        [0.1736753273010254, 0.17166316986083985, 0.18066028594970704]),
    "adding/mse/sgd_plain_between_bi": (0.1701708984375, 0.1475330638885498, 3, 2, 2449, 3723656,
        [1.0354101657867432, 0.2924054265022278, 0.18980413675308228],
        [0.36945777893066406, 0.1701708984375, 0.17550495147705078]),
    "npz/accuracy/sgd_momentum": (0.3333333333333333, 0.2222222222222222, 3, 1, 1331, 422500,
        [1.103149652481079, 1.1028969287872314, 1.1026281118392944],
        [1.1031634012858074, 1.1028772989908855, 1.1013925340440538]),
    "npz/accuracy/adam_between": (0.4444444444444444, 0.2222222222222222, 3, 1, 3507, 1510704,
        [1.0986112356185913, 1.0985621213912964, 1.0974806547164917],
        [1.0919640858968098, 1.0914152993096247, 1.0911305745442708]),
    "npz/accuracy/adamw_input_bi": (0.3333333333333333, 0.2222222222222222, 3, 1, 1611, 558768,
        [1.108713150024414, 1.0996960401535034, 1.09517502784729],
        [1.1130952835083008, 1.1101018057929144, 1.107802602979872]),
    "npz/accuracy/rmsprop_output_bi": (0.4444444444444444, 0.1111111111111111, 3, 1, 3743, 1496560,
        [1.1098262071609497, 1.0957382917404175, 1.0863772630691528],
        [1.0923406812879775, 1.0855258305867512, 1.0855283737182617]),
    "npz/accuracy/adagrad": (0.4444444444444444, 0.2222222222222222, 3, 1, 411, 107332,
        [1.1447595357894897, 1.117200493812561, 1.106411337852478],
        [1.0627905527750652, 1.0627160602145724, 1.0624489254421658]),
    "npz/accuracy/sgd_plain_between_bi": (0.4444444444444444, 0.2222222222222222, 3, 1, 2483, 1591960,
        [1.1111558675765991, 1.112173318862915, 1.1073319911956787],
        [1.0760681364271376, 1.0762480629814997, 1.0764659245808919]),
}


@pytest.fixture(scope="module")
def datasets(tmp_path_factory):
    path = tmp_path_factory.mktemp("npz") / "c.npz"
    rng = np.random.default_rng(0)
    np.savez(path, X=rng.normal(size=(60, 8, 2)), y=np.arange(60) % 3)
    return {
        "mnist1d": load_dataset(MNIST1D(samples=400)),
        "adding": load_dataset(Adding(length=20, train=320, val=100, test=100)),
        "npz": load_dataset(NpzFile(path=path)),
    }


def _run(data, metric, config):
    epochs = []
    r = train_trial(config, data, TrainingSettings(max_epochs=3), metric, seed=11, threads=1, on_epoch=epochs.append)
    return (r.val_score, r.test_score, r.epochs, r.best_epoch, r.param_count, r.memory_estimate_bytes,
            [e.train_loss for e in epochs], [e.val_loss for e in epochs])


@pytest.mark.parametrize("key", list(REFERENCE))
def test_default_path_is_bit_identical_to_commit_afa047c(datasets, key):
    dataset, metric, config = key.split("/")
    new = CONFIGS[config]
    assert (new.window, new.stateful, new.class_weight) == (None, False, "none")  # the defaults
    assert _run(datasets[dataset], metric, CONFIGS[config]) == REFERENCE[key]
