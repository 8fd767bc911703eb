"""seqkit.generation.repl without a terminal: the :commands change the session's options or say,
in one line naming the command, why not; --choose's picks extend the prime. (The command through
a pseudo-terminal and a pipe: tests/cli/test_repl.py.)"""
import pytest

import seqkit
from seqkit.errors import OptionError
from seqkit.generation.repl import Session, Settings, append, pick


def test_commands_change_the_options_and_bad_values_are_one_line():
    session = Session(Settings(length=40, seed=3))
    assert session.command(":temperature 0.5") == [":temperature 0.5"]
    assert session.command(":top-k 40") == [":top_k 40"] and session.settings.top_k == 40
    assert session.command(":top_k none") == [":top_k none"] and session.settings.top_k is None
    assert session.command(":seed off") == [":seed none"] and session.settings.seed is None
    assert session.command(":length") == [":length 40"]
    assert session.command(":help")[0] == ":temperature 0.5  :length 40  :seed none  :top_k none  :top_p none"
    assert session.command(":quit") == "quit"
    for line, said in [(":temperature -1", ":temperature must be zero (argmax) or positive and finite, got -1.0"),
                       (":top_p 0", ":top_p must be in (0, 1], got 0.0"),
                       (":length -3", ":length must be zero or more, got -3"),
                       (":seed 1.5", ":seed takes a whole number, got '1.5'"),
                       (":colour red", "unknown command :colour: :help lists them")]:
        with pytest.raises(OptionError) as raised:
            session.command(line)
        assert str(raised.value) == said
    assert session.settings == Settings(0.5, 40, None, None, None)  # unchanged by the refusals


def test_a_seeded_session_draws_what_sample_draws(char_run):
    lm = seqkit.load(char_run)
    session = Session(Settings(temperature=0.9, length=30, seed=4))
    assert "".join(session.sample(lm, "ROMEO:")) == lm.sample(length=30, temperature=0.9, prime="ROMEO:", seed=4)[0]
    assert session.last_seed == 4


def test_picks_extend_the_prime(char_run):
    lm = seqkit.load(char_run)
    best = lm.next_token_probs("RO", 2)
    assert pick(lm, "RO", "2", 2) == "RO" + best[1][0]
    assert pick(lm, "RO", "MEO", 2) == "ROMEO"
    assert append(lm, "RO", "</s>") == "RO\n"
    with pytest.raises(OptionError, match="choice 3 is not among the 2 shown: pick 1 to 2, or type text"):
        pick(lm, "RO", "3", 2)
