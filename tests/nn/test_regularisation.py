"""Regularisation options: variational dropout (one mask per sequence), dropout on the embedded
input, tied embedding and output weights, and a uniform initialisation scale. Their gradients are
checked in tests/cells/test_gradcheck.py; a run with all four trains and resumes bit for bit in
tests/training/test_resume.py."""
import numpy as np
import pytest

from seqkit import Model, Workspace

V, T, B, H = 11, 6, 5, 8


def test_variational_dropout_uses_one_mask_per_sequence():
    """Every unit of every stream is either dropped at all T steps or kept at all of them."""
    model = Model(V, H, num_layers=2, cell="lstm", embed_size=H, dropout=0.5, input_dropout=0.4,
                  variational=True, seed=0)
    tokens = np.random.default_rng(1).integers(0, V, (T, B))
    _, _, cache = model.forward(tokens, tokens, dropout_rng=np.random.default_rng(2))
    input_mask, masks = cache.input_mask, cache.masks
    for mask, rate in ((input_mask, 0.4), *((m, 0.5) for m in masks)):
        assert mask.shape == (1, B, H)
        assert set(np.unique(mask)) == {0.0, np.float32(1 / (1 - rate))}
    per_step = Model(V, H, num_layers=2, cell="lstm", embed_size=H, dropout=0.5, seed=0)
    _, _, cache = per_step.forward(tokens, tokens, dropout_rng=np.random.default_rng(2))
    assert cache.masks[0].shape == (T, B, H) and cache.input_mask is None


@pytest.mark.parametrize("variational", [False, True])
def test_dropout_masks_are_one_draw_of_the_whole_shape(variational):
    """The masks are those of one draw of (T, total streams, F) doubles, streams first:stop kept,
    in both float types, the generator left after it: the stream the 0.1.0 runs were trained on
    (a faster draw must keep it)."""
    for dtype in (np.float32, np.float64):
        model = Model(V, H, dropout=0.3, dtype=dtype, seed=0, variational=variational)
        for shape, streams in (((64, 16, 256), None), ((7, 5, 33), None), ((50, 2, 300), (1, 3, 8))):
            ours, theirs = np.random.default_rng(5), np.random.default_rng(5)
            mask = model._dropout_mask(shape, ours, Workspace(), 0.3, streams)
            steps = 1 if variational else shape[0]
            first, stop, total = streams or (0, shape[1], shape[1])
            draws = theirs.random((steps, total, shape[2]))[:, first:stop]
            expected = (draws >= 0.3).astype(dtype) / np.dtype(dtype).type(1 - 0.3)
            assert mask.dtype == dtype and np.array_equal(mask, expected)
            assert ours.random() == theirs.random()


def test_tied_weights_share_one_array():
    model = Model(V, H, num_layers=1, cell="gru", embed_size=H, tie_weights=True, seed=0)
    assert "output.weight" not in model.parameters and model.output_weight is model.parameters["embedding.weight"]
    state = model.state_dict()
    assert state["decoder.weight"] is state["encoder.weight"]
    tokens = np.arange(B) % V
    logits, _ = model.step(tokens)
    embedding = model.parameters["embedding.weight"]
    h, _ = model.layers[0].step(embedding[tokens], None)
    np.testing.assert_allclose(logits, h @ embedding.T + model.parameters["output.bias"], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="tie_weights needs embed_size = hidden_size, got 4 and 8"):
        Model(V, H, embed_size=4, tie_weights=True)
    with pytest.raises(ValueError, match="need an embedding"):
        Model(V, H, input_dropout=0.1)


def test_init_scale_draws_every_parameter_from_its_range():
    model = Model(V, H, num_layers=2, cell="lstm", embed_size=4, init_scale=0.05, forget_bias=None, seed=0)
    for name, array in model.parameters.items():
        assert np.abs(array).max() <= 0.05 and np.abs(array).max() > 0.04, name

