"""A trained language model loaded from its run directory, for other projects and the CLI:

    lm = seqkit.load("runs/tinyshakespeare")        # the latest checkpoint; best=True for the best
    print(lm.sample(length=300, temperature=0.8, prime="ROMEO:", seed=1)[0])
    print(lm.evaluate(open("held_out.txt").read()))  # loss, perplexity, bits per char, tokens
"""
from pathlib import Path

import numpy as np

from seqkit.rundir import load_model
from seqkit.sample import generate
from seqkit.evaluation import evaluate_streams, summarize
from seqkit.vocab import BOS

EVAL_CHUNK = 256  # tokens per forward pass when evaluating a text; the state is carried across


class LanguageModel:
    """A Model with its vocabulary and training configuration."""

    def __init__(self, model, vocab, config, checkpoint):
        self.model, self.vocab, self.config, self.checkpoint = model, vocab, config, Path(checkpoint)

    def sample(self, length=500, temperature=1.0, top_k=None, top_p=None, prime="", count=1,
               seed=None, allow_unk=False):
        """`count` samples of up to `length` tokens after <s> and the prime (see seqkit.sample)."""
        unknown = self.vocab.unknown(prime)
        if unknown and self.config.text.level == "char":
            raise ValueError("the prime text has characters the vocabulary lacks: "
                             + " ".join(repr(t) for t in unknown) + "; leave them out of the prime")
        return generate(self.model, self.vocab, length, np.random.default_rng(seed), temperature,
                        top_k, top_p, prime, count, allow_unk)

    def evaluate(self, text):
        """Loss in nats per predicted token, perplexity, bits per character (char level) and the
        token count over `text`, as one stream with the state carried throughout. Every token
        after <s> is predicted, </s> included; <s> never is."""
        ids = self.vocab.encode(text)
        if len(ids) < 2:
            raise ValueError("the text has no token to predict")
        loss_sum, count = evaluate_streams(self.model, ids[:, None], EVAL_CHUNK, self.vocab.id_of(BOS))
        return summarize(loss_sum, count, self.config.text.level)


def load(run_dir, best=False):
    """The LanguageModel saved in run_dir (its latest checkpoint, or with best=True the one with
    the lowest validation loss). Nothing is unpickled; mismatches raise CheckpointError."""
    return LanguageModel(*load_model(run_dir, best))
