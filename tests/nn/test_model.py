"""The stacked model: its layers against a direct composition, loss sanity, state carrying,
sampling steps, dropout, and learning a small corpus."""
import tracemalloc

import numpy as np
import pytest
from shared import shakespeare
from variants import state_arrays

from seqkit import Model
from seqkit.nn import model as model_module

V, T, B, H = 11, 5, 3, 6


def numpy_cross_entropy(logits, targets):
    shifted = logits - logits.max(axis=-1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return -np.take_along_axis(log_probs, targets[..., None], axis=-1).mean()


def composed_loss(model, inputs, targets):
    """The model's loss by composing its parts by hand: dense inputs, cell.forward, numpy."""
    p = model.parameters
    x = np.eye(V)[inputs] if model.one_hot else p["embedding.weight"][inputs]
    for layer in model.layers:
        x = layer.forward(x)[0]
    return numpy_cross_entropy(x @ p["output.weight"].T + p["output.bias"], targets)


@pytest.mark.parametrize("embed_size", [None, 4])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_model_equals_its_parts_composed(cell, embed_size):
    """One-hot input is a row gather, never a dense (T, B, V) matrix; it must equal the dense
    product exactly as the embedding path equals a lookup."""
    rng = np.random.default_rng(0)
    model = Model(V, H, num_layers=2, cell=cell, embed_size=embed_size, dtype=np.float64, seed=1)
    tokens, targets = rng.integers(0, V, (T, B)), rng.integers(0, V, (T, B))
    loss, _, _ = model.forward(tokens, targets)
    assert loss == pytest.approx(composed_loss(model, tokens, targets), abs=1e-12)


@pytest.mark.parametrize("dtype, tolerance", [(np.float64, 1e-10), (np.float32, 1e-4)])
@pytest.mark.parametrize("tied", [False, True])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_a_gathered_first_projection_gives_the_loss_and_gradients_of_the_product(cell, tied, dtype, tolerance,
                                                                                 monkeypatch):
    """With four or more tokens a vocabulary entry, layer 0's projection comes from a table of
    the vocabulary's; the loss and every gradient must be those of projecting each token (with
    the same dropout masks after each layer)."""
    rng = np.random.default_rng(4)
    model = Model(V, H, num_layers=2, cell=cell, embed_size=H, tie_weights=tied, dropout=0.3, dtype=dtype, seed=2)
    tokens, targets = rng.integers(0, V, (16, B)), rng.integers(0, V, (16, B))

    def loss_and_gradients():
        loss, _, cache = model.forward(tokens, targets, dropout_rng=np.random.default_rng(5))
        return loss, cache.gathered, {name: g.copy() for name, g in model.backward(cache)[0].items()}

    gathered_loss, gathered, gathered_grads = loss_and_gradients()
    monkeypatch.setattr(model_module, "TOKENS_AN_ENTRY_TO_GATHER", tokens.size + 1)
    loss, projected, grads = loss_and_gradients()
    assert gathered and not projected
    assert gathered_loss == pytest.approx(loss, rel=tolerance)
    for name, grad in grads.items():
        np.testing.assert_allclose(gathered_grads[name], grad, rtol=tolerance, atol=tolerance * 1e-2, err_msg=name)


def test_ignored_targets_count_for_nothing():
    rng = np.random.default_rng(10)
    model = Model(V, H, num_layers=1, cell="gru", embed_size=4, dtype=np.float64, seed=11)
    tokens, targets = rng.integers(0, V, (T, B)), rng.integers(1, V, (T, B))
    targets[::2, 1] = 0
    kept = targets != 0
    loss, _, cache = model.forward(tokens, targets, ignore_index=0)
    dlogits = cache.dlogits
    assert not dlogits[~kept].any()
    assert np.allclose(dlogits[kept].sum(axis=-1), 0)
    full_loss, _, _ = model.forward(tokens, targets)
    assert loss != full_loss
    state, step_logits = None, []
    for t in range(T):
        step_out, state = model.step(tokens[t], state)
        step_logits.append(step_out)
    step_logits = np.stack(step_logits)
    assert loss == pytest.approx(numpy_cross_entropy(step_logits[kept], targets[kept]), abs=1e-12)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_initial_loss_is_about_log_vocab(cell):
    rng = np.random.default_rng(2)
    model = Model(65, 128, num_layers=2, cell=cell, embed_size=32, seed=3)
    loss, _, _ = model.forward(rng.integers(0, 65, (50, 8)), rng.integers(0, 65, (50, 8)))
    assert abs(loss - np.log(65)) < 0.1


def test_chunks_with_carried_state_equal_one_long_forward():
    rng = np.random.default_rng(4)
    model = Model(V, H, num_layers=2, cell="lstm", embed_size=4, dtype=np.float64, seed=5)
    tokens, targets = rng.integers(0, V, (12, B)), rng.integers(0, V, (12, B))
    long_loss, long_state, _ = model.forward(tokens, targets)
    state, losses = None, []
    for start in range(0, 12, 4):
        loss, state, _ = model.forward(tokens[start:start + 4], targets[start:start + 4], state)
        losses.append(loss)
    assert np.mean(losses) == pytest.approx(long_loss, abs=1e-14)
    for layer_state, layer_long in zip(state, long_state):
        for a, b in zip(state_arrays(layer_state), state_arrays(layer_long)):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("embed_size", [None, 4])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_step_gives_the_logits_that_forward_scores(cell, embed_size):
    rng = np.random.default_rng(6)
    model = Model(V, H, num_layers=2, cell=cell, embed_size=embed_size, dtype=np.float64, seed=7)
    tokens, targets = rng.integers(0, V, (T, B)), rng.integers(0, V, (T, B))
    state, step_logits = None, []
    for t in range(T):
        logits, state = model.step(tokens[t], state)
        step_logits.append(logits)
    loss, _, _ = model.forward(tokens, targets)
    assert numpy_cross_entropy(np.stack(step_logits), targets) == pytest.approx(loss, abs=1e-12)


def test_dropout_is_inverted_and_only_in_training():
    rng = np.random.default_rng(8)
    model = Model(V, 200, num_layers=2, cell="gru", embed_size=4, dropout=0.25, seed=9)
    tokens, targets = rng.integers(0, V, (T, B)), rng.integers(0, V, (T, B))
    eval_loss = model.forward(tokens, targets)[0]
    assert model.forward(tokens, targets)[0] == eval_loss
    _, _, cache = model.forward(tokens, targets, dropout_rng=np.random.default_rng(0))
    masks = cache.masks
    assert len(masks) == 2
    for mask in masks:
        assert set(np.unique(mask)) == {0.0, np.float32(1 / 0.75)}
        assert abs((mask == 0).mean() - 0.25) < 0.02
    assert model.forward(tokens, targets, dropout_rng=np.random.default_rng(0))[0] != eval_loss


def test_bad_tokens_are_refused():
    model = Model(V, H, seed=0)
    with pytest.raises(ValueError, match=r"tokens holds ids outside \[0, 11\)"):
        model.forward(np.full((T, B), V), np.zeros((T, B), int))
    with pytest.raises(ValueError, match=r"targets has shape \(5, 2\), expected \(5, 3\)"):
        model.forward(np.zeros((T, B), int), np.zeros((T, 2), int))
    with pytest.raises(ValueError, match="tokens must be a non-empty 2-d integer array"):
        model.forward(np.zeros((T, B)), np.zeros((T, B), int))
    with pytest.raises(ValueError, match=r"dropout must be in \[0, 1\), got 1.0"):
        Model(V, H, dropout=1.0)


def test_overfits_a_one_kilobyte_corpus():
    """End to end: truncated BPTT with carried state and a plain Adam update (written out here;
    seqkit's optimizers are tested on their own) drive the loss on 1 KB of Shakespeare from
    log(V) to well under 1 nat per character."""
    text = shakespeare(1024)  # 1 KB: the design note's "overfits a 1 KB corpus"
    alphabet = sorted(set(text))
    ids = np.array([alphabet.index(ch) for ch in text])
    streams, seq_len = 4, 32
    columns = ids[: (len(ids) - 1) // streams * streams + 1]
    width = (len(columns) - 1) // streams
    inputs = columns[:-1].reshape(streams, width).T
    targets = columns[1:].reshape(streams, width).T
    model = Model(len(alphabet), 64, num_layers=1, cell="lstm", embed_size=16, seed=0)
    moments = {name: (np.zeros_like(p), np.zeros_like(p)) for name, p in model.parameters.items()}
    step, losses = 0, []
    for _ in range(40):
        state, epoch_losses = None, []
        for start in range(0, width, seq_len):
            loss, state, cache = model.forward(inputs[start:start + seq_len], targets[start:start + seq_len], state)
            grads, _ = model.backward(cache)
            step += 1
            for name, param in model.parameters.items():
                m, v = moments[name]
                m[...] = 0.9 * m + 0.1 * grads[name]
                v[...] = 0.999 * v + 0.001 * grads[name] ** 2
                param -= 0.01 * (m / (1 - 0.9 ** step)) / (np.sqrt(v / (1 - 0.999 ** step)) + 1e-8)
            epoch_losses.append(loss)
        losses.append(np.mean(epoch_losses))
    assert losses[0] > 3.0
    assert losses[-1] < 0.5


@pytest.mark.parametrize("embed_size", [None, 4])
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_a_workspace_reuses_its_arrays_and_changes_no_result(cell, embed_size):
    """Forward and backward through a Workspace, twice in a row with different data and then at
    another shape, give exactly what fresh arrays give, and the second call reuses the first
    call's arrays (no allocation of activations from step to step)."""
    from seqkit import Workspace
    rng = np.random.default_rng(5)
    model = Model(V, H, num_layers=2, cell=cell, embed_size=embed_size, dtype=np.float64, seed=3)
    workspace = Workspace()
    seen = []
    # (16, 3): 48 tokens, four an entry of the vocabulary: an embedded first layer gathers
    for shape in [(T, B), (T, B), (T + 2, B + 1), (16, 3), (16, 3)]:
        tokens, targets = rng.integers(0, V, shape), rng.integers(0, V, shape)
        state = [tuple(np.full_like(a, 0.3) for a in state_arrays(s)) if cell == "lstm" else np.full_like(s, 0.3)
                 for s in model.initial_state(shape[1])]
        loss, final, cache = model.forward(tokens, targets, state)
        grads = {name: g.copy() for name, g in model.backward(cache)[0].items()}
        reused_loss, reused_final, reused_cache = model.forward(tokens, targets, state, workspace=workspace)
        reused_grads, _ = model.backward(reused_cache)
        assert reused_loss == loss
        for a, b in zip(final, reused_final):
            for x, y in zip(state_arrays(a), state_arrays(b)):
                np.testing.assert_array_equal(x, y)
        for name in grads:
            np.testing.assert_array_equal(reused_grads[name], grads[name], err_msg=name)
        seen.append(reused_cache.x)  # the output of the top layer, as the output layer saw it
    assert np.shares_memory(seen[0], seen[1]) and np.shares_memory(seen[3], seen[4])
    assert not np.shares_memory(seen[1], seen[2])  # a new shape gets new arrays


def test_a_workspace_hands_out_one_array_per_name():
    from seqkit import Workspace
    workspace = Workspace()
    first = workspace.empty("a", (2, 3), np.float32)
    assert workspace.empty("a", (2, 3), np.float32) is first
    assert workspace.empty("b", (2, 3), np.float32) is not first
    assert workspace.empty("a", (2, 3), np.float64).dtype == np.float64
    assert workspace.child(0) is workspace.child(0) and workspace.child(0) is not workspace.child(1)


def test_the_output_layer_in_blocks_gives_the_loss_and_gradients_of_one_block(monkeypatch):
    """forward computes logits a few rows at a time; the block size changes nothing beyond
    rounding, and evaluation (gradients=False) never holds a (T * B, V) array."""
    import seqkit.nn.model
    from seqkit import Workspace
    rng = np.random.default_rng(3)
    inputs, targets = rng.integers(0, V, (T, B)), rng.integers(0, V, (T, B))
    model = Model(V, H, 2, "lstm", embed_size=4, dtype=np.float64, seed=0)
    loss, state, cache = model.forward(inputs, targets)  # T * B = 15 rows fit in one block
    grads = {name: g.copy() for name, g in model.backward(cache)[0].items()}
    monkeypatch.setattr(seqkit.nn.model, "OUTPUT_BLOCK_BYTES", 4 * V * 8)  # 4 rows a block
    blocked_loss, blocked_state, blocked_cache = model.forward(inputs, targets)
    assert blocked_loss == pytest.approx(loss, rel=1e-13)
    for name, g in model.backward(blocked_cache)[0].items():
        np.testing.assert_allclose(g, grads[name], rtol=1e-12, atol=1e-15)
    eval_loss, eval_state, eval_cache = model.forward(inputs, targets, workspace=Workspace(), gradients=False)
    assert eval_cache is None and eval_loss == pytest.approx(loss, rel=1e-13)
    np.testing.assert_array_equal(eval_state[1][0], blocked_state[1][0])

    big_vocab = 2000
    big = Model(big_vocab, 8, 1, "rnn", embed_size=4, dtype=np.float64, seed=0)
    tokens = rng.integers(0, big_vocab, (50, 4))
    whole = tokens.size * big_vocab * 8  # bytes of (T * B, V) logits
    big.forward(tokens, tokens, gradients=False)  # compiled (or loaded) before memory is traced
    assert peak_bytes(lambda: big.forward(tokens, tokens, gradients=False)) < whole / 4
    assert peak_bytes(lambda: big.forward(tokens, tokens)) >= whole  # the gradient kept for backward


def peak_bytes(run):
    """Peak memory that numpy and Python allocate while `run` runs."""
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_state_dict_has_pytorch_examples_names_and_loads_back():
    """pytorch/examples' word_language_model names: encoder, rnn.*_l{k}, decoder; one-hot input
    has no encoder and a (G*H, V) first input weight. A state dict loads into a fresh model and
    gives the same loss; one with a name or shape wrong is refused and changes nothing."""
    rng = np.random.default_rng(0)
    tokens, targets = rng.integers(0, V, (T, B)), rng.integers(0, V, (T, B))
    model = Model(V, H, num_layers=2, cell="lstm", embed_size=4, dtype=np.float64, seed=1)
    layer_names = [f"rnn.{kind}_{part}_l{k}" for k in range(2) for kind in ("weight", "bias")
                   for part in ("ih", "hh")]
    assert sorted(model.state_dict()) == sorted(["encoder.weight", "decoder.weight", "decoder.bias", *layer_names])
    assert model.state_dict()["rnn.weight_ih_l1"].shape == (4 * H, H)

    fresh = Model(V, H, num_layers=2, cell="lstm", embed_size=4, dtype=np.float64, seed=2)
    as_torch_gives = {name: np.array(array, np.float32).astype(np.float64) for name, array in model.state_dict().items()}
    fresh.load_state_dict(as_torch_gives)
    assert fresh.forward(tokens, targets)[0] == pytest.approx(model.forward(tokens, targets)[0], rel=1e-6)

    before = {name: array.copy() for name, array in fresh.parameters.items()}
    wrong_shape = dict(as_torch_gives, **{"decoder.bias": np.zeros(V + 1)})
    with pytest.raises(ValueError, match=r"decoder.bias has shape \(12,\), expected \(11,\)"):
        fresh.load_state_dict(wrong_shape)
    with pytest.raises(KeyError, match=r"missing \['encoder.weight'\]"):
        fresh.load_state_dict({k: v for k, v in as_torch_gives.items() if k != "encoder.weight"})
    assert all(np.array_equal(before[name], array) for name, array in fresh.parameters.items())

    one_hot = Model(V, H, num_layers=1, cell="gru", dtype=np.float32, seed=1).state_dict()
    assert "encoder.weight" not in one_hot and one_hot["rnn.weight_ih_l0"].shape == (3 * H, V)


def test_model_states_go_to_plain_arrays_and_back():
    """What the trainer checkpoints: a list per layer of (B, H) arrays, whatever the cell."""
    for cell, count in (("lstm", 2), ("gru", 1), ("rnn", 1)):
        model = Model(V, H, num_layers=2, cell=cell, embed_size=4, seed=1)
        _, state, _ = model.forward(np.ones((T, B), int), np.ones((T, B), int))
        arrays = model.state_arrays(state)
        assert [len(a) for a in arrays] == [count, count] and arrays[1][0].shape == (B, H)
        again = model.state_arrays(model.pack_state(arrays))
        assert all(np.array_equal(a, b) for x, y in zip(arrays, again) for a, b in zip(x, y))
