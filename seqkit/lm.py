"""A trained language model loaded from its run directory, for other projects and the CLI:

    lm = seqkit.load("runs/tinyshakespeare")        # the latest checkpoint; best=True for the best
    print(lm.sample(length=300, temperature=0.8, prime="ROMEO:", seed=1)[0])
    for text in lm.stream(length=10**9, seed=1):    # a sample of any length, written as it is drawn
        print(text, end="", flush=True)
    print(lm.evaluate(open("held_out.txt").read()))  # loss, perplexity, bits per char, tokens
"""
import os
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from seqkit._checks import check_count
from seqkit.config import TrainConfig
from seqkit.generation.labelled import labelled
from seqkit.generation.sampler import new_seed, stream
from seqkit.nn.model import Model
from seqkit.runs.checkpoint import atomic_write, read_json
from seqkit.runs.directory import CONFIG, load_model
from seqkit.runs.saving import save_run
from seqkit.text.options import BOS
from seqkit.text.vocab import Vocab
from seqkit.training.evaluation import evaluate_streams, summarize

EVAL_CHUNK = 256  # tokens per forward pass when evaluating a text; the state is carried across


class LanguageModel:
    """A Model with its vocabulary and training configuration."""

    def __init__(self, model: Model, vocab: Vocab, config: TrainConfig, checkpoint: str | os.PathLike) -> None:
        self.model, self.vocab, self.config, self.checkpoint = model, vocab, config, Path(checkpoint)

    def sample(self, length: int = 500, temperature: float = 1.0, top_k: int | None = None,
               top_p: float | None = None, prime: str = "", count: int = 1, seed: int | None = None,
               allow_unk: bool = False, stop_at_end: bool = False, label: str | None = None) -> list[str]:
        """`count` samples as whole texts (see stream). Sample i is drawn with the seed seed + i,
        so that stream(..., seed=seed + i) gives it alone; with seed None, from a random seed."""
        check_count("count", count)
        first = new_seed() if seed is None else check_count("seed", seed, 0)
        return ["".join(self.stream(length, temperature, top_k, top_p, prime, first + i, allow_unk, stop_at_end,
                                    label=label)) for i in range(count)]

    def stream(self, length: int = 500, temperature: float = 1.0, top_k: int | None = None,
               top_p: float | None = None, prime: str = "", seed: int | None = None, allow_unk: bool = False,
               stop_at_end: bool = False, label: str | None = None) -> Iterator[str]:
        """One sample as pieces of text, each yielded as soon as its tokens are drawn (a block at a
        time, so a sample of any length takes the same memory): the prime as the model reads it,
        then `length` tokens drawn after <s> and the prime. Each </s> drawn ends a line or
        paragraph and counts; the model then reads <s> and goes on, unless stop_at_end, which
        ends the sample before its first </s>. The options are checked before this returns.
        label: one of a labelled run's labels (vocab.labels), which every unit then begins with
        (seqkit.generation.labelled)."""
        unknown = self.vocab.unknown(prime)
        if unknown and self.config.text.level == "char":
            raise ValueError("the prime text has characters the vocabulary lacks: "
                             + " ".join(repr(t) for t in unknown) + "; leave them out of the prime")
        if seed is not None:
            check_count("seed", seed, 0)
        if label is not None:
            return labelled(self.model, self.vocab, label, length, np.random.default_rng(seed), temperature, top_k,
                            top_p, prime, allow_unk, stop_at_end)
        return stream(self.model, self.vocab, length, np.random.default_rng(seed), temperature, top_k, top_p,
                      prime, allow_unk, stop_at_end)

    def generate_to_file(self, path: str | os.PathLike, count: int = 1, separator: str = "\n\n",
                         seed: int | None = None, **options: Any) -> None:
        """Write `count` samples (stream's options) to path, `separator` between them, each
        written as it is drawn; path is replaced only once all are written. Sample i is drawn
        with seed + i, as in sample."""
        check_count("count", count)
        first = new_seed() if seed is None else check_count("seed", seed, 0)

        def write(file):
            for i in range(count):
                file.write((separator if i else "").encode())
                for text in self.stream(seed=first + i, **options):
                    file.write(text.encode())
        atomic_write(path, write)

    def save(self, run_dir: str | os.PathLike) -> None:
        """Write this model as a new run directory (config.json, vocab.json, latest.npz and
        best.npz at step 0 with fresh optimizer state): it samples, evaluates and fine-tunes
        like any run, and resumes where its corpus is known (recorded by the run it came from)."""
        beside = self.checkpoint.parent / CONFIG
        digest = read_json(beside).get("corpus_sha256") if beside.is_file() else None
        save_run(run_dir, self.model, self.vocab, self.config, digest, saved_from=str(self.checkpoint))

    def export(self, path: str | os.PathLike, overwrite: bool = False) -> None:
        """Write this model to the .safetensors file `path`, under PyTorch's names, with its
        configuration, vocabulary and its training corpus's digest in the metadata
        (seqkit.runs.interop.save_model). An existing file is replaced only with overwrite=True."""
        from seqkit.runs import interop  # here, so that only this loads the safetensors package
        interop.save_model(path, self.model, self.vocab, self.config, interop.corpus_digest(self.checkpoint),
                           overwrite)

    def evaluate(self, text: str) -> dict[str, Any]:
        """Loss in nats per predicted token, perplexity, bits per character (char level) and the
        token count over `text`, as one stream with the state carried throughout. Every token
        after <s> is predicted, </s> included; <s> never is."""
        ids = self.vocab.encode(text)
        if len(ids) < 2:
            raise ValueError("the text has no token to predict")
        loss_sum, count = evaluate_streams(self.model, ids[:, None], EVAL_CHUNK, self.vocab.id_of(BOS))
        return summarize(loss_sum, count, self.config.text.level)


def load(run, best=False, **options):
    """The LanguageModel saved in a run directory (its latest checkpoint, or with best=True the
    one with the lowest validation loss), or in a checkpoint file of one (best.npz, latest.npz),
    or in a .safetensors file (`seqkit export`'s, or a PyTorch state dict's given the options of
    seqkit.runs.interop.read: vocab=, level=, ...). Nothing is unpickled; mismatches raise CheckpointError."""
    if Path(run).suffix == ".safetensors":
        if best:
            raise ValueError(f"best=True picks a run directory's best checkpoint, but {run} is a .safetensors "
                             f"file: drop best")
        from seqkit.runs import interop  # here, so that only a .safetensors file loads the safetensors package
        imported = interop.read(run, **options)
        return LanguageModel(imported.model, imported.vocab, imported.config, imported.path)
    if options:
        raise TypeError(f"{', '.join(options)}: options for a .safetensors file, but {run} is not one")
    return LanguageModel(*load_model(run, best))
