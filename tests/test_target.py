"""Every constant of the target table, checked against the installed Lava models."""

from __future__ import annotations

import numpy as np
import pytest
from lava.proc.dense.process import Dense
from lava.proc.lif.models import PyLifModelBitAcc
from lava.utils import weightutils as wu

from lavabridge.quant import LOIHI2, QDense, SignMode


def test_lif_constants_match_lava_model() -> None:
    m = PyLifModelBitAcc({})
    assert m.ds_offset == LOIHI2.ds_offset
    assert m.dm_offset == LOIHI2.dm_offset
    assert m.uv_bitwidth == LOIHI2.uv_bits
    assert m.max_uv_val == LOIHI2.max_uv
    assert m.decay_shift == LOIHI2.decay_shift
    assert m.decay_unity == LOIHI2.decay_unity
    assert m.vth_shift == LOIHI2.vth_shift
    assert m.act_shift == LOIHI2.act_shift


def test_lif_var_precisions_match_lava_model() -> None:
    # bias_mant is an int16 Var (wraps beyond), precision 13; bias_exp precision 3; du/dv 12 bit
    assert PyLifModelBitAcc.bias_mant.precision == 13
    assert PyLifModelBitAcc.bias_mant.d_type == np.int16
    assert PyLifModelBitAcc.bias_exp.precision == 3
    assert PyLifModelBitAcc.du.precision == 12
    assert PyLifModelBitAcc.dv.precision == 12
    assert PyLifModelBitAcc.u.precision == LOIHI2.uv_bits
    lo, hi = LOIHI2.bias_mant_range
    assert (lo, hi) == (-(1 << 12), (1 << 12) - 1)
    assert LOIHI2.bias_exp_range == (0, (1 << 3) - 1)


def test_sign_mode_values_match_lava() -> None:
    for mode in SignMode:
        assert int(mode) == wu.SignMode[mode.name].value


LEGAL_MODES_BITS = [
    (mode, nwb)
    for mode in (SignMode.MIXED, SignMode.EXCITATORY, SignMode.INHIBITORY)
    for nwb in range(1, 10)
    if LOIHI2.truncate_bits(mode, nwb) >= 0  # num_weight_bits=9 exists for mixed mode only
]


@pytest.mark.parametrize(("mode", "nwb"), LEGAL_MODES_BITS)
def test_effective_weights_match_lava_weightutils(mode: SignMode, nwb: int) -> None:
    rng = np.random.default_rng(nwb * 10 + int(mode))
    lo, hi = LOIHI2.weight_clip_range(mode)
    w = rng.integers(lo - 40, hi + 40, size=(32, 48))
    lava_mode = wu.SignMode(int(mode))
    expected = wu.truncate_weights(wu.clip_weights(w, lava_mode, num_bits=8), lava_mode, nwb)
    ours = QDense(np.clip(w, lo, hi), num_weight_bits=nwb, sign_mode=mode).effective_weights()
    np.testing.assert_array_equal(ours, expected)


def test_clip_ranges_match_lava() -> None:
    w = np.arange(-400, 400).reshape(1, -1)
    for mode in (SignMode.MIXED, SignMode.EXCITATORY, SignMode.INHIBITORY):
        clipped = wu.clip_weights(w, wu.SignMode(int(mode)), num_bits=8)
        assert (int(clipped.min()), int(clipped.max())) == LOIHI2.weight_clip_range(mode)


def test_sign_mode_inference_matches_lava() -> None:
    from lavabridge.quant import infer_sign_mode

    for w in ([[1, 2]], [[0, 0]], [[-1, 0]], [[-1, 1]]):
        arr = np.array(w)
        assert int(infer_sign_mode(arr)) == wu.determine_sign_mode(arr).value


def test_dense_defaults_match_target() -> None:
    d = Dense(weights=np.ones((2, 2)))
    assert d.proc_params.get("num_weight_bits", 8) == 8
    assert d.proc_params.get("weight_exp", 0) == 0


def test_conv_entries_match_lava_model() -> None:
    """What the target table says of Lava's fixed-point Conv, read off the installed model:
    int8 geometry Vars, a 24-bit wrap of the output, weight_exp / num_weight_bits ignored."""
    from lava.proc.conv import utils
    from lava.proc.conv.models import PyConvModelFixed

    for name in ("kernel_size", "stride", "padding", "dilation", "groups"):
        assert getattr(PyConvModelFixed, name).d_type is np.int8  # hence conv_param_max = 127
    assert np.iinfo(np.int8).max == LOIHI2.conv_param_max
    assert PyConvModelFixed.weight.d_type is np.int32
    assert PyConvModelFixed.a_out.precision == LOIHI2.conv_out_bits
    half = 1 << (LOIHI2.conv_out_bits - 1)
    x = np.array([half - 1, half, -half, -half - 1, 9 * 100 * (1 << 20)])
    wrapped = utils.signed_clamp(x, bits=LOIHI2.conv_out_bits)
    assert wrapped.tolist() == [half - 1, -half, -half, half - 1, 4194304]
    model = PyConvModelFixed.__new__(PyConvModelFixed)
    np.testing.assert_array_equal(model.clamp_precision(x), wrapped)
    # the convolution itself reads neither weight_exp nor num_weight_bits
    import inspect

    source = inspect.getsource(PyConvModelFixed.__mro__[1].run_spk)
    assert "weight_exp" not in source and "num_weight_bits" not in source
    lo, hi = LOIHI2.conv_weight_range
    assert np.iinfo(np.int32).min < lo and hi < np.iinfo(np.int32).max
