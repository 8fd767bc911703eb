"""seqkit repl RUN: driven through a real pseudo-terminal (a prime's continuation is lm.sample's
for the same seed and temperature, :temperature changes it, :help shows the values, a bad value
is one line and the prompt goes on), and with stdin a pipe (each line's sample as seqkit sample
writes it; --choose picks tokens by number). Each subprocess pays the start of Python and the
compiled sampler's cache load, so there are two of them."""
import os
import select
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

import seqkit
from seqkit.cli.main import main
from seqkit.cli.repl import PROMPT

HERE = Path(__file__).parent  # not the checkout's root, whose seqkit/ lacks cli/ (it installs as seqkit.cli)
TIMEOUT = 60


class Terminal:
    """`seqkit repl ARGS` with stdin, stdout and stderr on a pseudo-terminal."""

    def __init__(self, *args):
        self.master, slave = os.openpty()
        self.process = subprocess.Popen([sys.executable, "-m", "seqkit", "repl", *map(str, args)], stdin=slave,
                                        stdout=slave, stderr=slave, close_fds=True, env={**os.environ, "TERM": "dumb"},
                                        cwd=HERE)
        os.close(slave)
        self.seen = ""

    def until(self, marker):
        """The output up to and including the next `marker`, newlines as "\\n"."""
        deadline = time.monotonic() + TIMEOUT
        while marker not in self.seen:
            left = deadline - time.monotonic()
            assert left > 0, f"no {marker!r} in {self.seen!r}"
            ready, _, _ = select.select([self.master], [], [], left)
            if ready:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:  # the child closed the terminal
                    chunk = b""
                assert chunk, f"the repl ended before {marker!r}: {self.seen!r}"
                self.seen += chunk.decode("utf-8", "replace").replace("\r\n", "\n")
        before, _, self.seen = self.seen.partition(marker)
        return before

    def send(self, line):
        os.write(self.master, line.encode() + b"\n")
        return self.until(PROMPT)

    def close(self):
        os.write(self.master, b":quit\n")
        assert self.process.wait(TIMEOUT) == 0
        os.close(self.master)


def test_the_repl_on_a_terminal(char_run):
    lm = seqkit.load(char_run)
    terminal = Terminal(char_run, "--seed", "3", "--temperature", "0.8", "--length", "40")
    try:
        assert ":help" in terminal.until(PROMPT)  # the greeting, on the terminal's stderr
        said = terminal.send("ROMEO:")
        assert said == "ROMEO:\n" + lm.sample(length=40, temperature=0.8, prime="ROMEO:", seed=3)[0] + "\n"
        assert terminal.send(":temperature 0") == ":temperature 0\n:temperature 0.0\n"
        said = terminal.send("ROMEO:")
        assert said == "ROMEO:\n" + lm.sample(length=40, temperature=0, prime="ROMEO:")[0] + "\n"
        assert terminal.send(":top_p 2") == ":top_p 2\nerror: :top_p must be in (0, 1], got 2.0\n"
        shown = terminal.send(":help")
        assert ":temperature 0.0  :length 40  :seed 3  :top_k none  :top_p none" in shown
        assert ":quit" in shown
    finally:
        terminal.close()


def test_piped_lines_are_samples_as_sample_writes_them(char_run):
    lines = "ROMEO:\n:length 25\n\nCitizen:\n:length x\nJULIET\n:seed 9\nROMEO:\n"
    done = subprocess.run([sys.executable, "-m", "seqkit", "repl", str(char_run), "--seed", "5", "--length", "30"],
                          input=lines, capture_output=True, text=True, timeout=TIMEOUT, cwd=HERE)
    assert done.returncode == 0, done.stderr

    def sample(prime, length, seed):
        result = CliRunner().invoke(main, ["sample", str(char_run), "--prime", prime, "--length", str(length),
                                           "--seed", str(seed)])
        assert result.exit_code == 0, result.output
        return result.stdout

    assert done.stdout == sample("ROMEO:", 30, 5) + sample("", 25, 5) + sample("Citizen:", 25, 5) + sample("ROMEO:", 25, 9)
    assert done.stderr.splitlines() == [":length 25", "error: :length takes a whole number, got 'x'",
                                        "error: the prime text has characters the vocabulary lacks: 'J'; leave them out "
                                        "of the prime", ":seed 9"]


def test_choose_picks_the_numbered_tokens(char_run):
    lm = seqkit.load(char_run)
    first = lm.next_token_probs("RO", 3)
    second = lm.next_token_probs("RO" + first[1][0], 3)
    done = subprocess.run([sys.executable, "-m", "seqkit", "repl", str(char_run), "--choose", "3"],
                          input="RO\n2\n4\n1\nME\n\n", capture_output=True, text=True, timeout=TIMEOUT, cwd=HERE)
    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    assert out[0] == "RO" and out[1] == f"  1  {first[0][0]!r}  {first[0][1]:.3f}" and len(out[1:4]) == 3
    assert out[4] == "RO" + first[1][0]
    assert "choice 4 is not among the 3 shown" in done.stderr
    built = "RO" + first[1][0] + second[0][0]
    assert out[-1] == built + "ME"
