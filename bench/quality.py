"""Held-out loss after a wall-clock budget: seqkit configurations against PyTorch peers of our
own writing, on the same split and machine.

    python bench/quality.py --budget 3                        # seqkit's defaults and both peers
    python bench/quality.py --budget 10 --seeds 1 2 3 --only seqkit
    python bench/quality.py --budget 3 --config "--dropout 0.2" --config "--val-blocks 1" --peers torch-lstm
    python bench/quality.py --budget 3 --only seqkit --corpus other.txt --config "--level word"
    python bench/quality.py --budget 60 --only seqkit --best --config "--hidden 512 --dropout 0.3"

The split is nanoGPT's: the first 90% of tiny-shakespeare trains, the last 10% is held out and
evaluated whole at the end of each budget (seqkit: `seqkit eval` on the latest checkpoint, the
text as one stream; peers: the same stream, the LSTM's state carried, the transformer over
non-overlapping 64-character windows). seqkit runs are `seqkit train train.txt --time BUDGET`,
exactly as a user types them, periodic evaluations and samples included in the budget. Peers:
- torch-lstm: seqkit's defaults in PyTorch (oneDNN's LSTM): a 2x256 LSTM over a 64-wide
  embedding, dropout 0.1 on each layer's output, 16 streams of 64 characters with the state
  carried, Adam 4e-3 with 100 warm-up steps and a cosine to a tenth over the budget, clip 5;
  it trains on the whole training split (seqkit holds 5% of it out for its own validation).
- torch-transformer: a small character transformer (4 layers, 4 heads, width 128, context 64,
  batch 12, AdamW 1e-3 with 100 warm-up steps and a cosine to a tenth over the budget, no
  dropout), as nanoGPT's shakespeare_char configuration scaled down.
Each run is one process after the last, nothing else running. Results are appended to
bench/results.txt with the CPU model.
"""
import argparse
import math
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import cpu_model

HERE = Path(__file__).parent
PEERS = ["torch-transformer", "torch-lstm"]
SEQKIT = str(Path(sys.executable).with_name("seqkit"))


def split(directory, corpus=None):
    from seqkit.corpora import path
    text = Path(corpus or path()).read_text()
    cut = int(len(text) * 0.9)
    (directory / "train.txt").write_text(text[:cut])
    (directory / "val.txt").write_text(text[cut:])
    return text[:cut], text[cut:]


def run_seqkit(directory, options, budget, seed, best=False):
    run = directory / f"run-{seed}-{abs(hash(options)) % 10 ** 8}"
    started = time.monotonic()
    subprocess.run([SEQKIT, "train", str(directory / "train.txt"), "--time", str(budget), "--seed", str(seed),
                    "-o", str(run), *shlex.split(options)], check=True, stderr=subprocess.DEVNULL)
    wall = time.monotonic() - started
    out = subprocess.run([SEQKIT, "eval", str(run), str(directory / "val.txt"), *(["--best"] if best else [])],
                         check=True, capture_output=True, text=True).stdout
    steps = sum(1 for line in (run / "metrics.jsonl").read_text().splitlines() if '"kind": "train"' in line)
    return float(re.search(r"loss ([0-9.]+)", out).group(1)), steps, wall


# --- the PyTorch peers ------------------------------------------------------------------------------
def torch_peer(kind, train_text, val_text, budget, seed):
    import numpy as np
    import torch
    from torch import nn
    torch.set_num_threads(2)
    torch.manual_seed(seed)
    chars = sorted(set(train_text + val_text))
    index = {c: i for i, c in enumerate(chars)}
    train = torch.tensor([index[c] for c in train_text])
    val = torch.tensor([index[c] for c in val_text])
    V, rng = len(chars), np.random.default_rng(seed)
    if kind == "torch-lstm":
        model = LSTMPeer(V)
        optimizer = torch.optim.Adam(model.parameters(), lr=4e-3)
        B, T = 16, 64
        rows = len(train) // B
        streams = train[:rows * B].view(B, rows).t()
        state, position, steps = None, 0, 0
        started = time.monotonic()
        while (elapsed := time.monotonic() - started) < budget * 60:
            set_lr(optimizer, 4e-3, steps, elapsed / (budget * 60))
            if position + T + 1 > rows:
                position, state = 0, None
            x, y = streams[position:position + T], streams[position + 1:position + T + 1]
            logits, state = model(x, state)
            state = tuple(s.detach() for s in state)
            loss = nn.functional.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            optimizer.step()
            position, steps = position + T, steps + 1
        model.eval()
        with torch.no_grad():
            logits, _ = model(val[:-1, None], None)
            held_out = nn.functional.cross_entropy(logits.reshape(-1, V), val[1:]).item()
    else:
        model, context, B = TransformerPeer(V), 64, 12
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.99), weight_decay=0.1)
        steps, started = 0, time.monotonic()
        while (elapsed := time.monotonic() - started) < budget * 60:
            set_lr(optimizer, 1e-3, steps, elapsed / (budget * 60))
            starts = rng.integers(0, len(train) - context - 1, B)
            x = torch.stack([train[s:s + context] for s in starts])
            y = torch.stack([train[s + 1:s + context + 1] for s in starts])
            loss = nn.functional.cross_entropy(model(x).reshape(-1, V), y.reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            steps += 1
        with torch.no_grad():
            windows = (len(val) - 1) // context
            x = val[:windows * context].view(windows, context)
            y = val[1:windows * context + 1].view(windows, context)
            held_out = nn.functional.cross_entropy(model(x).reshape(-1, V), y.reshape(-1)).item()
    return held_out, steps, time.monotonic() - started


def set_lr(optimizer, lr, steps, share):
    """100 steps of linear warm-up, then a cosine to a tenth of lr at share = 1 of the budget."""
    for group in optimizer.param_groups:
        group["lr"] = lr * min(1.0, (steps + 1) / 100) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * share)))


def LSTMPeer(V, E=64, H=256, dropout=0.1):
    from torch import nn

    class Peer(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed, self.rnn = nn.Embedding(V, E), nn.LSTM(E, H, 2, dropout=dropout)
            self.drop, self.out = nn.Dropout(dropout), nn.Linear(H, V)

        def forward(self, x, state):
            y, state = self.rnn(self.embed(x), state)
            return self.out(self.drop(y)), state
    return Peer()


def TransformerPeer(V, width=128, layers=4, heads=4, context=64):
    import torch
    from torch import nn

    class Peer(nn.Module):
        def __init__(self):
            super().__init__()
            self.tokens, self.positions = nn.Embedding(V, width), nn.Embedding(context, width)
            layer = nn.TransformerEncoderLayer(width, heads, 4 * width, dropout=0.0, batch_first=True,
                                               norm_first=True, activation="gelu")
            self.blocks = nn.TransformerEncoder(layer, layers)
            self.norm, self.out = nn.LayerNorm(width), nn.Linear(width, V)

        def forward(self, x):
            T = x.shape[1]
            mask = torch.triu(torch.full((T, T), float("-inf")), diagonal=1)
            h = self.tokens(x) + self.positions(torch.arange(T))
            return self.out(self.norm(self.blocks(h, mask=mask, is_causal=True)))
    return Peer()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=3.0, help="minutes per run")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1])
    parser.add_argument("--config", action="append", help="seqkit train options ('' for the defaults)")
    parser.add_argument("--only", choices=["seqkit", "peers"], help="skip the other side")
    parser.add_argument("--peers", nargs="+", choices=PEERS, default=PEERS)
    parser.add_argument("--best", action="store_true",
                        help="evaluate seqkit's best-validation checkpoint (`seqkit eval --best`), not its latest")
    parser.add_argument("--corpus", help="another text, split the same way (default: tiny-shakespeare)")
    args = parser.parse_args()
    configs = args.config if args.config is not None else [""]
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        train_text, val_text = split(directory, args.corpus)
        rows = []
        for seed in args.seeds:
            if args.only != "peers":
                for options in configs:
                    result = run_seqkit(directory, options, args.budget, seed, args.best)
                    rows.append((f"seqkit {options or '(defaults)'}", seed, *result))
                    print(*rows[-1], flush=True)
            if args.only != "seqkit":
                for kind in args.peers:
                    rows.append((kind, seed, *torch_peer(kind, train_text, val_text, args.budget, seed)))
                    print(*rows[-1], flush=True)
    corpus = Path(args.corpus).name if args.corpus else "tiny-shakespeare"
    header = (f"# python bench/quality.py --budget {args.budget:g} --seeds {' '.join(map(str, args.seeds))}"
              f"{' --corpus ' + corpus if args.corpus else ''}{' --best' if args.best else ''}, "
              f"{time.strftime('%Y-%m-%d')}, {cpu_model()}, {os.cpu_count()} CPUs\n"
              f"# held-out loss (nats/token, last 10% of {corpus})  steps  wall s  what\n")
    lines = "".join(f"{loss:.4f}  {steps:6d}  {wall:6.0f}  {name} (seed {seed})\n"
                    for name, seed, loss, steps, wall in rows)
    print(header + lines)
    with open(HERE / "results.txt", "a") as results:
        results.write("\n" + header + lines)


if __name__ == "__main__":
    main()
