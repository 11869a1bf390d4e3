"""Torch layers with the deployed discrete-time semantics, surrogate gradients, coding, losses."""

from lavabridge.coding import (
    first_spike_time,
    latency_encode,
    predict_by_count,
    predict_by_first_spike,
    predict_by_membrane,
    rate_encode,
    spike_count,
)
from lavabridge.nn.coding import to_time_major
from lavabridge.nn.layers import CubaLIF, SpikingLayer, SpikingNet, delay_one_step
from lavabridge.nn.loss import count_cross_entropy, membrane_cross_entropy, rate_mse_loss
from lavabridge.nn.qat import disable_qat, enable_qat
from lavabridge.nn.spatial import AvgPool2d, Conv2d, SumPool2d
from lavabridge.nn.surrogate import Surrogate
from lavabridge.nn.tracing import trace
from lavabridge.target import decay_to_du, decay_to_dv

__all__ = [
    "AvgPool2d",
    "Conv2d",
    "CubaLIF",
    "SpikingLayer",
    "SpikingNet",
    "SumPool2d",
    "Surrogate",
    "count_cross_entropy",
    "decay_to_du",
    "decay_to_dv",
    "delay_one_step",
    "disable_qat",
    "enable_qat",
    "first_spike_time",
    "latency_encode",
    "membrane_cross_entropy",
    "predict_by_count",
    "predict_by_first_spike",
    "predict_by_membrane",
    "rate_encode",
    "rate_mse_loss",
    "spike_count",
    "to_time_major",
    "trace",
]
