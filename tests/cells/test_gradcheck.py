"""Every backward pass against central differences in float64: max relative error <= 1e-6 on
every parameter, on the input and on the initial state."""
import numpy as np
import pytest
from gradcheck import max_relative_error, numerical_gradient
from variants import make_cell, random_state, state_arrays

from seqkit import Model
from seqkit.nn.model import TOKENS_AN_ENTRY_TO_GATHER

TOLERANCE = 1e-6
T, B, I, H = 4, 3, 3, 4


def test_cell_gradients(variant):
    rng = np.random.default_rng(0)
    cell = make_cell(variant, I, H, seed=1)
    x = rng.standard_normal((T, B, I))
    state = random_state(cell, B, rng)
    # The loss weighs every output and the final state by fixed random numbers, so that each
    # reaches the gradient with its own coefficient.
    dy = rng.standard_normal((T, B, H))
    dstate = random_state(cell, B, rng)

    def loss():
        y, final, _ = cell.forward(x, state)
        return np.sum(y * dy) + sum(np.sum(a * d) for a, d in zip(state_arrays(final), state_arrays(dstate)))

    _, _, cache = cell.forward(x, state)
    grads, dx, dstate0 = cell.backward(dy, dstate, cache)
    checked = dict(grads, x=dx)
    targets = dict(cell.params, x=x)
    for k, (array, grad) in enumerate(zip(state_arrays(state), state_arrays(dstate0))):
        targets[f"state{k}"], checked[f"state{k}"] = array, grad
    for name, grad in checked.items():
        numeric = numerical_gradient(loss, targets[name])
        assert max_relative_error(grad, numeric) <= TOLERANCE, name


MODEL_CASES = {  # name: (Model options, whether one target id is ignored, vocabulary size)
    # The T * B = 12 tokens are 4 an entry of a vocabulary of 3: an embedded layer 0's projection
    # is gathered from a table of the vocabulary's; of 7, it is the product of the embedded tokens.
    "embedding": (dict(embed_size=3), False, 3),
    "embedding_fewer_tokens_an_entry": (dict(embed_size=3), False, 7),
    "one_hot": (dict(embed_size=None), False, 7),
    "embedding_dropout": (dict(embed_size=3, dropout=0.3), False, 3),
    "one_hot_dropout_ignore": (dict(embed_size=None, dropout=0.3), True, 7),
    # Tied weights: the embedding's gradient sums its input and output parts.
    "tied": (dict(embed_size=H, tie_weights=True), False, 3),
    "tied_input_dropout_at_four_tokens_an_entry": (dict(embed_size=H, tie_weights=True, input_dropout=0.2), False, 3),
    "tied_variational_input_dropout": (dict(embed_size=H, tie_weights=True, dropout=0.3, input_dropout=0.2,
                                            variational=True), False, 7),
}


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("case", list(MODEL_CASES))
def test_model_gradients(cell, case):
    """Two layers, output layer and loss; the initial state is non-zero and the final state also
    feeds the loss, so its gradient path is checked too. Dropout uses the same masks on every
    evaluation (a freshly seeded generator), which makes the loss a fixed function."""
    rng = np.random.default_rng(2)
    options, ignore, V = MODEL_CASES[case]
    model = Model(V, hidden_size=H, num_layers=2, cell=cell, dtype=np.float64, seed=3, **options)
    tokens = rng.integers(0, V, (T, B))
    tokens[1, 0] = tokens[0, 0]  # a repeated token, so gathered rows must accumulate
    targets = rng.integers(0, V, (T, B))
    ignore_index = targets[0, 0] if ignore else -1
    state = [random_state(layer, B, rng) for layer in model.layers]
    dstate = [random_state(layer, B, rng) for layer in model.layers]

    def run():
        return model.forward(tokens, targets, state, dropout_rng=np.random.default_rng(4),
                             ignore_index=ignore_index)

    def loss():
        value, final, _ = run()
        return value + sum(np.sum(a * d) for layer_final, layer_d in zip(final, dstate)
                           for a, d in zip(state_arrays(layer_final), state_arrays(layer_d)))

    _, _, cache = run()
    assert cache.gathered == (options["embed_size"] is not None and TOKENS_AN_ENTRY_TO_GATHER * V <= T * B
                              and "input_dropout" not in options)
    grads, dstate0 = model.backward(cache, dstate)
    assert grads.keys() == model.parameters.keys()
    for name, grad in grads.items():
        numeric = numerical_gradient(loss, model.parameters[name])
        assert max_relative_error(grad, numeric) <= TOLERANCE, name
    for k, (layer_state, layer_grad) in enumerate(zip(state, dstate0)):
        for array, grad in zip(state_arrays(layer_state), state_arrays(layer_grad)):
            assert max_relative_error(grad, numerical_gradient(loss, array)) <= TOLERANCE, f"state of layer {k}"
