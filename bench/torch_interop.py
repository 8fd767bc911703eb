"""seqkit <-> PyTorch through safetensors: a model seqkit exports loads into nn.Embedding +
nn.LSTM(num_layers=L) + nn.Linear (nn.GRU, nn.RNN; one-hot input; tied weights) and gives
seqkit's logits on a held-out text; a model PyTorch then trains, saved with safetensors, imports
into seqkit and gives PyTorch's logits.

Not part of the test suite (PyTorch is never a seqkit dependency). Run it where both are
installed:

    pip install torch==2.13.0 . && python bench/torch_interop.py [RUN ...] [--text FILE]

Without RUN it trains tiny runs on the first 90% of tiny-shakespeare (300 steps each): a char
LSTM with an embedding (float32, and float64), a char GRU with one-hot input, a char RNN (tanh),
a word LSTM with tied weights; the held-out text is the corpus's last 5,000 characters. For each:

  export   seqkit export RUN model.safetensors; a PyTorch module built from the file's shapes
           alone loads its tensors with load_state_dict(strict=True), unchanged (no gate
           reordering: seqkit keeps PyTorch's order, i f g o and r z n); the logits of every
           held-out token from both (seqkit: Model.step, the sampler's compiled step) and the
           loss (seqkit: LanguageModel.evaluate) are compared.
  import   PyTorch trains that module 30 more steps (Adam), saves it with safetensors.torch.
           save_model (tied weights: one tensor, the other name in the metadata) and no seqkit
           metadata; seqkit import --vocab builds a run from it, compared the same way; and the
           file saved with the export's metadata passed on loads with seqkit.load(file) alone.

Exits non-zero if a logit differs by more than 1e-5 (float32) or 1e-12 (float64).
"""
import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_model

import seqkit
from seqkit.config import TrainConfig
from seqkit.corpora import path as corpus_path
from seqkit.runs import interop
from seqkit.text.options import BOS, TextOptions
from seqkit.training.trainer import Trainer

TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-12}
HELD_OUT = 5_000  # characters at the corpus's end that no run trains on
TINY = dict(layers=2, hidden=64, batch_size=16, seq_len=64, steps=300, eval_every=300, seed=1, sample_length=0)
RUNS = {
    "lstm float32": dict(cell="lstm", embed=32),
    "lstm float64": dict(cell="lstm", embed=32, dtype="float64"),
    "gru one-hot": dict(cell="gru", embed=None),
    "rnn tanh": dict(cell="rnn", embed=32, layers=1),
    "word lstm tied": dict(cell="lstm", embed=64, tie_weights=True, text=TextOptions(level="word", max_vocab=2000)),
}
TORCH_STEPS = 30


class WordLanguageModel(torch.nn.Module):
    """pytorch/examples' word_language_model: encoder, rnn, decoder; built from a state dict's shapes."""

    def __init__(self, tensors, nonlinearity="tanh"):
        super().__init__()
        vocab_size, hidden = tensors["decoder.weight"].shape
        layers = 1 + max(int(re.search(r"_l(\d+)$", name).group(1)) for name in tensors if name.startswith("rnn."))
        gates = tensors["rnn.weight_hh_l0"].shape[0] // hidden
        self.one_hot = "encoder.weight" not in tensors
        inputs = vocab_size if self.one_hot else tensors["encoder.weight"].shape[1]
        self.encoder = None if self.one_hot else torch.nn.Embedding(vocab_size, inputs)
        rnn = {4: torch.nn.LSTM, 3: torch.nn.GRU, 1: torch.nn.RNN}[gates]
        options = {"nonlinearity": nonlinearity} if gates == 1 else {}
        self.rnn = rnn(inputs, hidden, layers, **options)
        self.decoder = torch.nn.Linear(hidden, vocab_size)
        if not self.one_hot and torch.equal(tensors["encoder.weight"], tensors["decoder.weight"]):
            self.decoder.weight = self.encoder.weight  # word_language_model's --tied
        self.to(tensors["decoder.weight"].dtype)
        self.vocab_size = vocab_size

    def forward(self, tokens):
        """Logits (T, B, V) of tokens (T, B), from a zero state."""
        dtype = self.decoder.weight.dtype
        x = torch.nn.functional.one_hot(tokens, self.vocab_size).to(dtype) if self.one_hot else self.encoder(tokens)
        return self.decoder(self.rnn(x)[0])


def seqkit_logits(lm, ids):
    """seqkit's logits of every token of ids[:-1], one compiled step at a time (T, V)."""
    state, rows = None, []
    for token in ids[:-1]:
        logits, state = lm.model.step(np.array([token]), state)
        rows.append(logits[0].copy())
    return np.array(rows)


def torch_logits_and_loss(module, ids, bos):
    with torch.no_grad():
        logits = module(torch.tensor(ids[:-1], dtype=torch.long)[:, None])[:, 0]
        targets = torch.tensor(ids[1:], dtype=torch.long)
        kept = targets != bos  # seqkit never predicts <s>
        loss = torch.nn.functional.cross_entropy(logits[kept].double(), targets[kept]).item()
    return logits.numpy(), loss


def compare(label, lm, module, text, dtype):
    ids = lm.vocab.encode(text)
    theirs, their_loss = torch_logits_and_loss(module, ids, lm.vocab.id_of(BOS))
    ours = seqkit_logits(lm, ids)
    our_loss = lm.evaluate(text)["loss"]
    difference = float(np.abs(ours - theirs).max())
    ok = difference <= TOLERANCE[dtype]
    print(f"  {label:50s} max |logit difference| {difference:.1e} over {ours.size:,} logits  "
          f"loss seqkit {our_loss:.6f} torch {their_loss:.6f}  {'ok' if ok else 'FAILED'}")
    return ok


def train_in_torch(module, vocab, text, dtype):
    """TORCH_STEPS steps of Adam on windows of the training text, so that the weights are PyTorch's own."""
    ids = torch.tensor(vocab.encode(text).astype(np.int64))
    generator = torch.Generator().manual_seed(0)
    optimizer = torch.optim.Adam(module.parameters(), lr=2e-3)
    module.train()
    for _ in range(TORCH_STEPS):
        starts = torch.randint(0, len(ids) - 65, (16,), generator=generator)
        batch = torch.stack([ids[s:s + 65] for s in starts.tolist()], 1)
        logits = module(batch[:-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), batch[1:].reshape(-1))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    module.eval()


def round_trip(label, run, held_out, train_text, work):
    lm = seqkit.load(run)
    dtype = {"float32": torch.float32, "float64": torch.float64}[lm.config.dtype]
    exported = work / f"{label.replace(' ', '_')}.safetensors"
    seqkit.load(run).export(exported, overwrite=True)
    tensors = load_file(str(exported))
    module = WordLanguageModel(tensors, lm.config.nonlinearity)
    module.load_state_dict(tensors, strict=True)
    module.eval()
    ids = lm.vocab.encode(held_out)
    print(f"{label}: {lm.config.layers}x{lm.config.hidden} {lm.config.cell}, "
          f"{'one-hot' if lm.config.embed is None else f'embedding {lm.config.embed}'}"
          f"{', tied' if lm.config.tie_weights else ''}, {len(lm.vocab):,} tokens, {lm.config.dtype}, "
          f"{len(ids) - 1:,} held-out tokens")
    ok = compare("seqkit -> torch (export)", lm, module, held_out, dtype)

    train_in_torch(module, lm.vocab, train_text, dtype)
    saved = work / f"{label.replace(' ', '_')}_torch.safetensors"
    save_model(module, str(saved))  # a PyTorch user's file: no seqkit metadata
    run_dir = work / f"{label.replace(' ', '_')}_imported"
    interop.import_run(saved, run_dir, vocab=Path(run) / "vocab.json",
                       nonlinearity=lm.config.nonlinearity if lm.config.cell == "rnn" else None)
    imported = seqkit.load(run_dir)
    ok &= compare(f"torch -> seqkit (import --vocab, {TORCH_STEPS} torch steps)", imported, module, held_out, dtype)
    with safe_open(str(exported), framework="np") as file:
        metadata = file.metadata()
    carried = work / f"{label.replace(' ', '_')}_torch_meta.safetensors"
    save_model(module, str(carried), metadata=dict(metadata))
    ok &= compare("torch -> seqkit (seqkit.load, metadata kept)", seqkit.load(carried), module, held_out, dtype)
    sample = imported.sample(length=60, temperature=0.8, seed=1)[0]
    print(f"  the PyTorch-trained model sampling in seqkit: {sample!r}")
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="*", help="run directories to round-trip (default: train tiny ones)")
    parser.add_argument("--text", help="held-out text (default: the last 5,000 characters of tiny-shakespeare)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    corpus = corpus_path().read_text()
    held_out = Path(args.text).read_text() if args.text else corpus[-HELD_OUT:]
    train_text = corpus[:int(0.9 * len(corpus))]
    print(f"torch {torch.__version__}, seqkit {seqkit.__version__}, tolerance 1e-5 (float32), 1e-12 (float64)")
    ok = True
    with tempfile.TemporaryDirectory() as scratch:
        work = Path(scratch)
        runs = {Path(run).name: Path(run) for run in args.runs}
        if not runs:
            (work / "train.txt").write_text(train_text)
            for label, options in RUNS.items():
                began = time.monotonic()
                run = work / label.replace(" ", "_")
                Trainer.start(TrainConfig(corpus=str(work / "train.txt"), **{**TINY, **options}), run).run()
                print(f"(trained {label}: {TINY['steps']} steps in {time.monotonic() - began:.0f} s)")
                runs[label] = run
        for label, run in runs.items():
            ok &= round_trip(label, run, held_out, train_text, work)
    print("all within tolerance" if ok else "SOME DIFFERENCES EXCEED THE TOLERANCE")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
