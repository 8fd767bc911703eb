"""TrainConfig, the one source of defaults: the policy that derives fields from others (an
embedding of --hidden and more dropout at word level, the schedule a decay option implies, the
epochs a stopping rule replaces), kept through replace() and config.json. (The command line reads
the same defaults: tests/cli/test_main.py.)"""
from seqkit.config import CHAR_DROPOUT, CHAR_EMBED, WORD_DROPOUT, TrainConfig
from seqkit.text.options import TextOptions


def test_replace_derives_the_policy_s_fields_again():
    """A copy made word level gets an embedding of its hidden size; one given a decay interval
    gets the step schedule; what the user set, or what a saved config recorded, stays."""
    word = TextOptions(level="word")
    assert TrainConfig().replace(text=word).embed == 256
    assert TrainConfig().replace(text=word).dropout == WORD_DROPOUT
    assert TrainConfig(dropout=0.2).replace(text=word).dropout == 0.2
    assert TrainConfig(text=word).replace(hidden=64).embed == 64
    assert TrainConfig().replace(lr_decay_every=100).lr_schedule == "step"
    assert TrainConfig(embed=None, text=word).replace(hidden=64).embed is None
    loaded = TrainConfig.from_dict(TrainConfig().to_dict())
    assert loaded.replace(text=word).embed == CHAR_EMBED and "_derived" not in loaded.to_dict()


def test_numpy_numbers_become_python_numbers():
    import json

    import numpy as np
    config = TrainConfig(hidden=np.int64(16), lr=np.float64(0.01), seed=np.int32(4))
    assert json.loads(json.dumps(config.to_dict()))["hidden"] == 16 and type(config.seed) is int


def test_the_policy_is_the_library_s():
    word = TrainConfig(text=TextOptions(level="word"), hidden=32)
    assert word.embed == 32 and TrainConfig().embed == CHAR_EMBED
    assert word.dropout == WORD_DROPOUT and TrainConfig().dropout == CHAR_DROPOUT != WORD_DROPOUT
    assert TrainConfig(dropout=0.0, text=TextOptions(level="word")).dropout == 0.0
    assert TrainConfig(lr_decay_every=10).lr_schedule == "step" and TrainConfig().lr_schedule == "cosine"
    assert TrainConfig(lr_decay_after=4).lr_schedule == "epoch"
    # Ten epochs unless another stopping rule is given: --time 10 trains ten minutes.
    assert TrainConfig().epochs == 10 and TrainConfig(minutes=3).epochs is None
    assert TrainConfig(steps=5).epochs is None and TrainConfig(minutes=3, epochs=2).epochs == 2
    assert TrainConfig().replace(minutes=5).epochs is None
    assert TrainConfig(seed=5).seed == 5
    assert TrainConfig(corpus="some.txt").corpus.endswith("/some.txt") and TrainConfig(corpus="x").corpus[0] == "/"
    assert TrainConfig.from_dict(word.to_dict()) == word  # what config.json records is resolved


def test_runs_saved_before_val_blocks_keep_their_tail_split():
    """A config.json without val_blocks (seqkit 0.1.0's) loads as the tail split it trained on;
    a new config holds out ten blocks."""
    old = TrainConfig(seed=1).to_dict()
    del old["val_blocks"]
    assert TrainConfig.from_dict(old).val_blocks == 1 and TrainConfig().val_blocks == 10
