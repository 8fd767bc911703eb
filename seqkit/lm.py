"""A trained language model loaded from its run directory, for other projects and the CLI:

    lm = seqkit.load("runs/tinyshakespeare")        # the latest checkpoint; best=True for the best
    print(lm.sample(length=300, temperature=0.8, prime="ROMEO:", seed=1)[0])
    for text in lm.stream(length=10**9, seed=1):    # a sample of any length, written as it is drawn
        print(text, end="", flush=True)
    print(lm.evaluate(open("held_out.txt").read()))  # loss, perplexity, bits per char, tokens
"""
import glob
import os
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from seqkit._checks import check_count
from seqkit.config import TrainConfig
from seqkit.errors import OptionError, option, setting
from seqkit.generation.choosing import Choice, choose
from seqkit.generation.controls import SamplingOptions
from seqkit.generation.labelled import labelled
from seqkit.generation.novelty import NoveltyIndex
from seqkit.generation.page import SUFFIXES as PAGE_SUFFIXES
from seqkit.generation.page import write_page
from seqkit.generation.sampler import new_seed, stream_options
from seqkit.generation.scoring import next_token_probabilities, score
from seqkit.nn.model import Model
from seqkit.runs.checkpoint import atomic_write, read_json
from seqkit.runs.directory import CONFIG, corpus_paths, load_model
from seqkit.runs.saving import save_run
from seqkit.text.corpus import read_text
from seqkit.text.files import find_files
from seqkit.text.options import BOS, BOS_ID
from seqkit.text.vocab import Vocab
from seqkit.training.evaluation import evaluate_streams, summarize

EVAL_CHUNK = 256  # tokens per forward pass when evaluating a text; the state is carried across


class LanguageModel:
    """A Model with its vocabulary and training configuration."""

    def __init__(self, model: Model, vocab: Vocab, config: TrainConfig, checkpoint: str | os.PathLike) -> None:
        self.model, self.vocab, self.config, self.checkpoint = model, vocab, config, Path(checkpoint)
        self._novelty: NoveltyIndex | None = None

    def sample(self, length: int = 500, temperature: float = 1.0, top_k: int | None = None,
               top_p: float | None = None, prime: str = "", count: int = 1, seed: int | None = None,
               allow_unk: bool = False, stop_at_end: bool = False, **controls: Any) -> list[str]:
        """`count` samples as whole texts (see stream). Sample i is drawn with the seed seed + i,
        so that stream(..., seed=seed + i) gives it alone; with seed None, from a random seed.
        controls: the other options of seqkit.generation.controls.SamplingOptions (stop,
        strip_stop, ban, repetition_penalty, repetition_window, no_repeat_ngram, beam, best_of,
        label).
        With beam=K or best_of=N, the `count` best of the K continuations or N samples (see
        choices), count at most K or N."""
        return [choice.text for choice in self.choices(length, temperature, top_k, top_p, prime, count, seed,
                                                      allow_unk, stop_at_end, **controls)]

    def choices(self, length: int = 500, temperature: float = 1.0, top_k: int | None = None,
                top_p: float | None = None, prime: str = "", count: int = 1, seed: int | None = None,
                allow_unk: bool = False, stop_at_end: bool = False, **controls: Any) -> list[Any]:
        """sample's samples as seqkit.generation.choosing.Choice records (text, seed, tokens, loss,
        logprob): with best_of, each candidate's seed and loss (the model's own, nats per token
        drawn), best first; with beam, each continuation's loss and total log-probability, best
        first by the mean log-probability per token; otherwise each sample's seed (loss None)."""
        check_count("count", count)
        options = self.options(temperature, top_k, top_p, allow_unk, stop_at_end, prime, **controls)
        options.check_count(count)
        first = new_seed() if seed is None else check_count("seed", seed, 0)
        if options.beam is not None or options.best_of is not None:
            found = choose(self.model, self.vocab, length, options, prime, first, count)
            if len(found) < count:  # a beam search that ends early (length 0, most tokens banned)
                raise OptionError(f"{setting('count', count)} is more than the {len(found)} continuations the "
                                  f"search found: lower {option('count')}", field="count", value=count)
            return found
        return [Choice("".join(self._draw(options, length, first + i, prime)), first + i, None, None)
                for i in range(count)]

    def stream(self, length: int = 500, temperature: float = 1.0, top_k: int | None = None,
               top_p: float | None = None, prime: str = "", seed: int | None = None, allow_unk: bool = False,
               stop_at_end: bool = False, **controls: Any) -> Iterator[str]:
        """One sample as pieces of text, each yielded as soon as its tokens are drawn (a block at a
        time, so a sample of any length takes the same memory): the prime as the model reads it,
        then `length` tokens drawn after <s> and the prime. Each </s> drawn ends a line or
        paragraph and counts; the model then reads <s> and goes on, unless stop_at_end, which
        ends the sample before its first </s>. controls: as for sample; a stop string ends the
        sample where it is drawn (with strip_stop, before it). With beam or best_of the chosen
        text comes whole, after the search. label: one of a labelled run's labels (vocab.labels),
        which every unit then begins with (seqkit.generation.labelled). The options are checked
        before this returns. Drawn (neither beam nor best_of), the generator's value when it ends
        (StopIteration.value) is the number of tokens drawn, as Choice.tokens counts them."""
        options = self.options(temperature, top_k, top_p, allow_unk, stop_at_end, prime, **controls)
        if seed is not None:
            check_count("seed", seed, 0)
        if options.beam is not None or options.best_of is not None:
            return iter([self.choices(length, temperature, top_k, top_p, prime, 1, seed, allow_unk, stop_at_end,
                                      **controls)[0].text])
        return self._draw(options, length, seed, prime)

    def _draw(self, options, length, seed, prime):
        """One sample's pieces of text, drawn with checked options (neither beam nor best_of)."""
        rng = np.random.default_rng(seed)
        if options.label is not None:
            return labelled(self.model, self.vocab, length, rng, options, prime)
        return stream_options(self.model, self.vocab, length, rng, options, prime)

    def options(self, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
                allow_unk: bool = False, stop_at_end: bool = False, prime: str = "",
                **controls: Any) -> SamplingOptions:
        """The SamplingOptions of these arguments, checked against this model: its vocabulary
        (the stop and ban strings, a beam's width) and the prime's characters (char level)."""
        unknown_fields = set(controls) - set(SamplingOptions.__dataclass_fields__)
        if unknown_fields:
            raise TypeError(f"unknown sampling options: {', '.join(sorted(unknown_fields))}")
        options = SamplingOptions(temperature, top_k, top_p, stop_at_end, allow_unk, **controls)
        options.resolve(self.vocab)
        unknown = self.vocab.unknown(prime)
        if unknown and self.config.text.level == "char":
            raise ValueError("the prime text has characters the vocabulary lacks: "
                             + " ".join(repr(t) for t in unknown) + "; leave them out of the prime")
        return options

    def generate_to_file(self, path: str | os.PathLike, count: int = 1, separator: str = "\n\n",
                         seed: int | None = None, **options: Any) -> None:
        """Write `count` samples (stream's options) to path, `separator` between them, each
        written as it is drawn; path is replaced only once all are written. Sample i is drawn
        with seed + i, as in sample."""
        check_count("count", count)
        first = new_seed() if seed is None else check_count("seed", seed, 0)
        if options.get("beam") is not None or options.get("best_of") is not None:  # chosen together, then written
            chosen = self.sample(count=count, seed=first, **options)
            atomic_write(path, lambda file: file.write(separator.join(chosen).encode()))
            return
        self.stream(seed=first, **options)  # checks the options before the file is touched

        def write(file):
            for i in range(count):
                file.write((separator if i else "").encode())
                for text in self.stream(seed=first + i, **options):
                    file.write(text.encode())
        atomic_write(path, write)

    def score(self, texts: str | Sequence[str], per_token: bool = False, top: int = 5) -> list[dict[str, Any]]:
        """How likely the model finds each text, read as a unit from where samples start (<s>,
        the text, </s>): a dict each, in order, {"text", "tokens" (those predicted: every one
        after <s>, </s> included), "logprob" (natural log, summed), "loss" (nats per token),
        "perplexity", "unknown_tokens" (read as <unk>)}; with per_token, "per_token": a dict for
        each predicted token, {"token", "logprob", "rank" (1: the most likely), "top": the `top`
        most likely tokens there, [{"token", "logprob"}, ...]} (seqkit.generation.scoring)."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        check_count("top", top)
        return score(self.model, self.vocab, texts, per_token, top)

    def next_token_probs(self, prime: str = "", k: int = 10) -> list[tuple[str, float]]:
        """The k tokens the model finds most likely next, after <s> and the prime, as (token,
        probability) pairs, most likely first ("</s>": the end of a line or paragraph)."""
        check_count("k", k)
        return next_token_probabilities(self.model, self.vocab, prime, k)

    def novelty_index(self) -> NoveltyIndex:
        """The run's training corpus as a seqkit.generation.novelty.NoveltyIndex, read once and
        kept; a ValueError says where it was looked for when it is not there."""
        if self._novelty is None:
            paths = corpus_paths(self.config)
            missing = [str(p) for p in paths if not p.exists() and not glob.has_magic(str(p))]
            if missing:
                raise ValueError(f"novelty compares a sample with the text the model trained on, but the run's corpus "
                                 f"{missing[0]} is not there")
            found = find_files(paths, self.config.text.label_from, self.config.encoding, self.config.encoding_errors)
            texts = [read_text(f.path, self.config.encoding, self.config.encoding_errors) for f in found.files]
            self._novelty = NoveltyIndex(self.vocab, "\n".join(texts))
        return self._novelty

    def novelty(self, text: str, prime: str = "") -> dict[str, Any]:
        """How much of `text` (a sample; its prime, given, left out) the training corpus holds:
        {"longest": the longest passage they share, "longest_tokens": its length in tokens,
        "windows": the text's 20-token windows, "copied": how many the corpus holds}."""
        skip = int(np.count_nonzero(self.vocab.encode(prime, frame=False) != BOS_ID)) if prime else 0
        return self.novelty_index().of(text, skip)

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
        (seqkit.runs.interop.save_model); or, where `path` ends in .html, as one self-contained
        page that samples in the browser (seqkit.generation.page). An existing file is replaced
        only with overwrite=True."""
        if Path(path).suffix.lower() in PAGE_SUFFIXES:
            write_page(path, self, overwrite)
            return
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
