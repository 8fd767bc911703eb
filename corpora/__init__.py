"""Small corpora shipped with seqkit, installed as the package seqkit.corpora.

tinyshakespeare.txt: 40,000 lines from Shakespeare's plays, as in Karpathy's char-rnn
(data/tinyshakespeare/input.txt), 1,115,394 ASCII characters, 65 distinct; public domain text.
sha256 86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed.
"""
from importlib.resources import files

DEFAULT = "tinyshakespeare.txt"


def path(name=DEFAULT):
    """The installed location of a shipped corpus, as a Traversable (use .read_text())."""
    return files(__name__) / name
