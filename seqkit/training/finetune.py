"""Fine-tuning: a new run that starts from a trained run's weights (char-rnn's -init_from).

The new run takes the trained run's architecture, tokenizer and vocabulary, and its own corpus,
optimiser, schedule and stopping rules. Tokens of the new corpus that the vocabulary lacks
read as <unk>, or with extend_vocab get rows of their own in the embedding and the output
layer, drawn as a fresh model of the new size draws them (the vocabulary is made as the corpus
is tokenized: seqkit.text.streaming.Encoder.vocab).
"""
from dataclasses import dataclass
from pathlib import Path

from seqkit.config import TrainConfig
from seqkit.nn.model import Model
from seqkit.runs.directory import load_model
from seqkit.text.vocab import Vocab

# What a fine-tuned run keeps of its source, besides the tokenizer (TrainConfig.text).
ARCHITECTURE = ("cell", "nonlinearity", "layers", "hidden", "embed", "tie_weights", "dtype", "init", "init_scale",
                "forget_bias")


@dataclass
class Source:
    """A trained run that a new run starts from; `checkpoint` is the file its weights come from."""
    model: Model
    vocab: Vocab
    config: TrainConfig
    checkpoint: Path
    extend_vocab: bool = False

    @classmethod
    def load(cls, run_dir, best=False, extend_vocab=False):
        return cls(*load_model(run_dir, best), extend_vocab=extend_vocab)

    def config_for(self, config):
        """config with the source's architecture and tokenizer."""
        return config.replace(text=self.config.text, **{name: getattr(self.config, name) for name in ARCHITECTURE})

    def initialize(self, model):
        """Copy the source's parameters into model, whose vocabulary may be larger: the rows
        (or one-hot columns) of the source's tokens are copied, the new ones keep model's."""
        for name, array in self.model.parameters.items():
            model.parameters[name][tuple(slice(0, n) for n in array.shape)] = array

    def record(self):
        """What config.json says of where the run started."""
        return {"run": str(self.checkpoint.parent.resolve()), "checkpoint": self.checkpoint.name,
                "vocab_size": len(self.vocab)}
