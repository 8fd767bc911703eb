"""The text layer: tokenizers and the vocabulary (text to ids), the one decoder (ids to text),
corpus files, and the layout of ids for truncated BPTT."""
from seqkit.text.options import TextOptions
from seqkit.text.vocab import Vocab, build_vocab

__all__ = ["TextOptions", "Vocab", "build_vocab"]
