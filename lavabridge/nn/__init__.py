"""Torch layers with the deployed discrete-time semantics, surrogate gradients, coding, losses."""

from lavabridge.nn.coding import (
    first_spike_time,
    latency_encode,
    predict_by_count,
    predict_by_first_spike,
    predict_by_membrane,
    rate_encode,
    spike_count,
    to_time_major,
)
from lavabridge.nn.layers import (
    CubaLIF,
    SpikingLayer,
    SpikingNet,
    decay_to_du,
    decay_to_dv,
    delay_one_step,
)
from lavabridge.nn.loss import count_cross_entropy, membrane_cross_entropy, rate_mse_loss
from lavabridge.nn.surrogate import Surrogate
from lavabridge.nn.tracing import trace

__all__ = [
    "CubaLIF",
    "SpikingLayer",
    "SpikingNet",
    "Surrogate",
    "count_cross_entropy",
    "decay_to_du",
    "decay_to_dv",
    "delay_one_step",
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
