"""seqkit against PyTorch on the same weights: outputs, final states and gradients.

Not part of the test suite (PyTorch is never a seqkit dependency). Run it in an environment
that has both, for example:

    python -m venv /tmp/bench && . /tmp/bench/bin/activate
    pip install torch==2.13.0 . && python bench/torch_parity.py

For each cell it builds a PyTorch module, loads its state dict into the seqkit cell
unchanged (numpy arrays keyed weight_ih_l0 ...), runs both on the same input and initial
state in float64, and prints the largest absolute differences of the outputs, the final
state and every gradient. Then, for each cell, a whole language model as pytorch/examples'
word_language_model builds it (nn.Embedding `encoder`, a two-layer nn.RNN/LSTM/GRU `rnn`,
nn.Linear `decoder`) loads into seqkit.Model through Model.load_state_dict unchanged, and the
two give the same loss on the same tokens. It exits non-zero if any difference exceeds 1e-10.
"""
import sys

import numpy as np
import torch

from seqkit import GRU, LSTM, RNN, Model

T, B, I, H = 7, 3, 5, 6
CASES = {
    "rnn_tanh": (lambda: torch.nn.RNN(I, H, nonlinearity="tanh"), lambda: RNN(I, H, dtype=np.float64)),
    "rnn_relu": (lambda: torch.nn.RNN(I, H, nonlinearity="relu"),
                 lambda: RNN(I, H, dtype=np.float64, nonlinearity="relu")),
    "lstm": (lambda: torch.nn.LSTM(I, H), lambda: LSTM(I, H, dtype=np.float64)),
    "gru": (lambda: torch.nn.GRU(I, H), lambda: GRU(I, H, dtype=np.float64)),
}


def compare(name, make_torch, make_seqkit):
    torch.manual_seed(0)
    module = make_torch().double()
    cell = make_seqkit()
    cell.load_state_dict({k: v.detach().numpy() for k, v in module.state_dict().items()})
    rng = np.random.default_rng(0)
    x = rng.standard_normal((T, B, I))
    lstm = isinstance(cell, LSTM)
    state = [rng.standard_normal((B, H)) for _ in range(2 if lstm else 1)]

    tx = torch.tensor(x, requires_grad=True)
    tstate = [torch.tensor(s[None], requires_grad=True) for s in state]
    ty, tfinal = module(tx, tuple(tstate) if lstm else tstate[0])
    tfinal = tfinal if lstm else (tfinal,)
    dy = rng.standard_normal((T, B, H))
    dfinal = [rng.standard_normal((B, H)) for _ in state]
    loss = (ty * torch.tensor(dy)).sum() + sum((f[0] * torch.tensor(d)).sum() for f, d in zip(tfinal, dfinal))
    loss.backward()

    y, final, cache = cell.forward(x, tuple(state) if lstm else state[0])
    grads, dx, dstate = cell.backward(dy, tuple(dfinal) if lstm else dfinal[0], cache)
    final, dstate = (final, dstate) if lstm else ((final,), (dstate,))

    diffs = {"output": np.abs(y - ty.detach().numpy()).max(),
             "final state": max(np.abs(a - b[0].detach().numpy()).max() for a, b in zip(final, tfinal)),
             "d input": np.abs(dx - tx.grad.numpy()).max(),
             "d initial state": max(np.abs(a - b.grad[0].numpy()).max() for a, b in zip(dstate, tstate))}
    for pname, param in module.named_parameters():
        diffs[f"d {pname}"] = np.abs(grads[pname[:-3]] - param.grad.numpy()).max()
    worst = max(diffs.values())
    print(f"{name:9s} max |seqkit - torch| = {worst:.1e}  "
          + "  ".join(f"{k}: {v:.0e}" for k, v in diffs.items()))
    return worst


def compare_models(cell, V=13, layers=2):
    """The loss of word_language_model's module layout in torch and of seqkit.Model on its weights."""
    torch.manual_seed(0)
    modules = {"encoder": torch.nn.Embedding(V, I), "decoder": torch.nn.Linear(H, V),
               "rnn": {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](I, H, layers)}
    state_dict = {f"{owner}.{name}": value.detach().double().numpy()
                  for owner, module in modules.items() for name, value in module.state_dict().items()}
    model = Model(V, H, layers, cell, embed_size=I, dtype=np.float64)
    model.load_state_dict(state_dict)
    tokens = np.random.default_rng(1).integers(0, V, (T + 1, B))
    with torch.no_grad():
        embedded = modules["encoder"].double()(torch.tensor(tokens[:-1]))
        logits = modules["decoder"].double()(modules["rnn"].double()(embedded)[0])
        torch_loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), torch.tensor(tokens[1:]).reshape(-1))
    loss = model.forward(tokens[:-1], tokens[1:])[0]
    difference = abs(loss - torch_loss.item())
    print(f"model {cell:4s} {layers} layers: loss seqkit {loss:.15f} torch {torch_loss.item():.15f}  "
          f"|difference| {difference:.1e}")
    return difference


def main():
    print(f"torch {torch.__version__}, float64, T={T} B={B} I={I} H={H}")
    worst = max(compare(name, *makers) for name, makers in CASES.items())
    worst = max([worst] + [compare_models(cell) for cell in ("rnn", "lstm", "gru")])
    sys.exit(0 if worst <= 1e-10 else 1)


if __name__ == "__main__":
    main()
