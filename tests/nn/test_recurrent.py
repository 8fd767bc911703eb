"""The recurrent layers' public contract other projects code against (seqkit.RNN, LSTM, GRU):
construction, params, state dicts and initialisation."""
import numpy as np
import pytest
from variants import make_cell

from seqkit import GRU, LSTM, RNN
from seqkit.nn.init import init_cell_params

SHAPES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}


def test_params_have_pytorch_names_and_shapes(variant):
    cell = make_cell(variant, 3, 5, dtype=np.float32)
    G = SHAPES[variant]
    assert {name: a.shape for name, a in cell.params.items()} == {
        "weight_ih": (G * 5, 3), "weight_hh": (G * 5, 5), "bias_ih": (G * 5,), "bias_hh": (G * 5,)}
    assert all(a.dtype == np.float32 and a.flags.c_contiguous for a in cell.params.values())


def test_load_state_dict_accepts_pytorch_suffix_and_changes_outputs(variant):
    source, target = make_cell(variant, 3, 4, seed=1), make_cell(variant, 3, 4, seed=2)
    x = np.random.default_rng(0).standard_normal((5, 2, 3))
    target.load_state_dict({f"{name}_l0": a.copy() for name, a in source.params.items()})
    np.testing.assert_array_equal(target.forward(x)[0], source.forward(x)[0])
    target.load_state_dict({name: np.zeros_like(a) for name, a in source.params.items()})
    assert not np.any(target.params["weight_ih"])


def test_load_state_dict_converts_to_the_cells_dtype():
    cell = LSTM(3, 4, dtype=np.float64)
    cell.load_state_dict({name: np.ones_like(a, dtype=np.float32) for name, a in cell.params.items()})
    assert cell.params["weight_hh"].dtype == np.float64 and np.all(cell.params["weight_hh"] == 1)


def test_load_state_dict_refuses_bad_dicts_without_changing_anything():
    cell = GRU(3, 4, seed=0)
    before = {name: a.copy() for name, a in cell.params.items()}
    good = {name: np.zeros_like(a) for name, a in cell.params.items()}
    with pytest.raises(ValueError, match=r"weight_hh has shape \(12, 5\), expected \(12, 4\)"):
        cell.load_state_dict(dict(good, weight_hh=np.zeros((12, 5))))
    with pytest.raises(KeyError, match="unexpected key 'weight_ih_l1'"):
        cell.load_state_dict(dict(good, weight_ih_l1=np.zeros((12, 3))))
    with pytest.raises(KeyError, match="lacks bias_hh"):
        cell.load_state_dict({k: v for k, v in good.items() if k != "bias_hh"})
    for name, array in cell.params.items():
        np.testing.assert_array_equal(array, before[name])


def test_uniform_init_is_bounded_by_one_over_sqrt_hidden(variant):
    cell = make_cell(variant, 7, 16, seed=0)
    for name, array in cell.params.items():
        if variant == "lstm" and name.startswith("bias"):
            array = np.delete(array, np.s_[16:32])  # the forget gate's block is set apart
        assert np.abs(array).max() <= 1 / 4, name
        assert np.abs(array).max() > 0.2, name  # spread over the whole range, not all near zero


def test_xavier_init_is_orthogonal_recurrent_xavier_input_zero_bias():
    H, I = 8, 5
    cell = LSTM(I, H, dtype=np.float64, seed=0, init="xavier", forget_bias=None)
    for block in np.split(cell.params["weight_hh"], 4):
        np.testing.assert_allclose(block @ block.T, np.eye(H), atol=1e-12)
    assert np.abs(cell.params["weight_ih"]).max() <= np.sqrt(6 / (I + H))
    assert not np.any(cell.params["bias_ih"]) and not np.any(cell.params["bias_hh"])


@pytest.mark.parametrize("init", ["uniform", "xavier"])
def test_lstm_forget_bias_sets_the_effective_forget_bias(init):
    H = 6
    default = LSTM(3, H, seed=0, init=init)  # keeps the scheme's draws, as nn.LSTM does
    drawn = init_cell_params(np.random.default_rng(0), 4, 3, H, init, np.float32)
    for name, array in drawn.items():
        np.testing.assert_array_equal(default.params[name], array)
    custom = LSTM(3, H, seed=0, init=init, forget_bias=2.5)
    np.testing.assert_array_equal((custom.params["bias_ih"] + custom.params["bias_hh"])[H:2 * H], 2.5)


def test_bad_constructor_arguments_are_refused():
    with pytest.raises(ValueError, match="hidden_size must be a positive integer, got 0"):
        LSTM(3, 0)
    with pytest.raises(ValueError, match="nonlinearity must be one of tanh, relu for the rnn cell"):
        RNN(3, 4, nonlinearity="sigmoid")
    with pytest.raises(TypeError, match="dtype must be float32 or float64, got float16"):
        GRU(3, 4, dtype=np.float16)
    with pytest.raises(ValueError, match="unknown init scheme 'he'"):
        GRU(3, 4, init="he")


def test_lstm_state_must_be_a_pair():
    cell = LSTM(3, 4, dtype=np.float64)
    with pytest.raises(TypeError, match=r"state of a lstm layer must be a tuple of 2 \(B, H\) arrays, got ndarray"):
        cell.forward(np.zeros((2, 1, 3)), np.zeros((1, 4)))
