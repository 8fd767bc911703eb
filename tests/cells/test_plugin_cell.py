"""A cell defined outside seqkit, end to end: a minimal gated unit written here, registered
through the public registry (and, for the CLI, found through the "seqkit.cells" entry point),
must pass the gradient check, train, resume bit for bit, sample through the compiled sampler
and run every CLI command, with no edit inside seqkit.

    z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
    n = tanh(W_in x + b_in + W_hn h + b_hn)
    h' = z * h + (1 - z) * n

Gate blocks in order z, n (G = 2); state h only (S = 1); cache per step: z, n (B, 2H). No
scratch: without a reset gate the gradient of W_hh h + b_hh is that of xproj.
"""
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import seqkit
from seqkit._jit import kernel
from seqkit.cells import Cell, Kernels

NAME = "mgu_test"


@kernel
def mgu_step_forward(xproj_t, states, t, weight_hh, bias_hh, cache_t):
    """states[0, t] -> states[0, t + 1]; cache_t receives z and n."""
    h_prev, h = states[0, t], states[0, t + 1]
    B, H = h.shape
    one = h.dtype.type(1)
    np.dot(h_prev, weight_hh.T, cache_t)  # W_hh h, overwritten by the gates below
    for b in range(B):
        for j in range(H):
            z = one / (one + np.exp(-(xproj_t[b, j] + cache_t[b, j] + bias_hh[j])))
            n = np.tanh(xproj_t[b, H + j] + cache_t[b, H + j] + bias_hh[H + j])
            cache_t[b, j], cache_t[b, H + j] = z, n
            h[b, j] = z * h_prev[b, j] + (one - z) * n


@kernel
def mgu_step_backward(dstate, states, t, cache_t, weight_hh, dxproj_t, dstate_prev, scratch_t):
    """Back through one step: dxproj_t (B, 2H) and dstate_prev[0] = dLoss/dh_prev."""
    dh, h_prev, dh_prev = dstate[0], states[0, t], dstate_prev[0]
    B, H = h_prev.shape
    one = h_prev.dtype.type(1)
    for b in range(B):
        for j in range(H):
            z, n = cache_t[b, j], cache_t[b, H + j]
            dxproj_t[b, j] = dh[b, j] * (h_prev[b, j] - n) * z * (one - z)
            dxproj_t[b, H + j] = dh[b, j] * (one - z) * (one - n * n)
    np.dot(dxproj_t, weight_hh, dh_prev)
    for b in range(B):
        for j in range(H):
            dh_prev[b, j] += dh[b, j] * cache_t[b, j]


@kernel
def mgu_forward(xproj, states, weight_hh, bias_hh, cache):
    for t in range(xproj.shape[0]):
        mgu_step_forward(xproj[t], states, t, weight_hh, bias_hh, cache[t])


@kernel
def mgu_backward(dy, dfinal, states, cache, weight_hh, dxproj, dinitial, dweight_hh, dbias_hh, scratch):
    T, B, H = dy.shape
    dstate = dfinal.copy()
    dstate[0] += dy[T - 1]
    for t in range(T - 1, -1, -1):
        mgu_step_backward(dstate, states, t, cache[t], weight_hh, dxproj[t], dinitial, scratch[t])
        if t > 0:
            np.add(dinitial, dy[t - 1], dstate)
    rows = dxproj.reshape(T * B, 2 * H)
    np.dot(rows.T, states[0, :T].reshape(T * B, H), dweight_hh)
    dbias_hh[:] = 0
    for r in range(T * B):
        for k in range(2 * H):
            dbias_hh[k] += rows[r, k]


CELL = Cell(NAME, gates=2, state_size=1, cache_size=2,
            kernels=Kernels(mgu_step_forward, mgu_step_backward, mgu_forward, mgu_backward))


@pytest.fixture(autouse=True, scope="module")
def registered():
    """CELL registered for this module's tests only (the CLI's subprocesses find it through the
    entry point instead): the registry is global, and other modules compare it with the CLI's
    --cell choices, which seqkit.cli fixed when it was imported. There is no public unregister."""
    seqkit.cells.register(CELL)
    yield
    seqkit.cells.registry._CELLS.pop(NAME)


def reference_forward(params, x, h):
    """The equations above in plain numpy, one step at a time."""
    H, ys = h.shape[1], []
    for x_t in x:
        a = x_t @ params["weight_ih"].T + params["bias_ih"] + h @ params["weight_hh"].T + params["bias_hh"]
        z, n = 1 / (1 + np.exp(-a[:, :H])), np.tanh(a[:, H:])
        h = z * h + (1 - z) * n
        ys.append(h)
    return np.stack(ys), h


def test_gradients_match_central_differences():
    """Every parameter, the input and the initial state, as tests/cells/test_gradcheck.py checks the built-ins."""
    from gradcheck import max_relative_error, numerical_gradient
    T, B, I, H = 4, 3, 3, 4
    rng = np.random.default_rng(0)
    cell = seqkit.Recurrent(I, H, cell=NAME, dtype=np.float64, seed=0)
    x, state = rng.standard_normal((T, B, I)), rng.uniform(-0.9, 0.9, (B, H))
    dy, dstate = rng.standard_normal((T, B, H)), rng.standard_normal((B, H))

    def loss():
        y, final, _ = cell.forward(x, state)
        return np.sum(y * dy) + np.sum(final * dstate)

    grads, dx, dstate0 = cell.backward(dy, dstate, cell.forward(x, state)[2])
    checked, targets = dict(grads, x=dx, state=dstate0), dict(cell.params, x=x, state=state)
    assert set(checked) == {"weight_ih", "weight_hh", "bias_ih", "bias_hh", "x", "state"}
    for name, grad in checked.items():
        assert max_relative_error(grad, numerical_gradient(loss, targets[name])) <= 1e-6, name


def test_forward_matches_the_equations_in_float64_and_float32():
    """The kernels against reference_forward; float32 parameters keep the math in float32."""
    rng = np.random.default_rng(1)
    x, h0 = rng.standard_normal((6, 3, 5)), rng.uniform(-0.9, 0.9, (3, 7))
    cell = seqkit.Recurrent(5, 7, cell=NAME, dtype=np.float64, seed=2)
    assert cell.params["weight_hh"].shape == (14, 7)
    y, final, _ = cell.forward(x, h0)
    y_ref, final_ref = reference_forward(cell.params, x, h0)
    np.testing.assert_allclose(y, y_ref, rtol=0, atol=1e-10)
    np.testing.assert_allclose(final, final_ref, rtol=0, atol=1e-10)
    h1, _ = cell.step(x[0], h0)  # the step kernel alone agrees with the whole-sequence one
    np.testing.assert_allclose(h1, y_ref[0], rtol=0, atol=1e-10)
    single = seqkit.Recurrent(5, 7, cell=NAME, dtype=np.float32, seed=2)
    y32, final32, _ = single.forward(x.astype(np.float32), h0.astype(np.float32))
    assert y32.dtype == final32.dtype == np.float32
    np.testing.assert_allclose(y32, y_ref, rtol=0, atol=1e-5)


def small_config(corpus, **changes):
    """shared.small_config with this module's cell."""
    from shared import small_config
    return small_config(corpus, cell=NAME, **changes)


def test_trains_samples_and_generates_as_stepping_the_model(corpus, tmp_path):
    """Trainer from Python learns; the compiled sampler, calling the plug-in's step through a
    function pointer, draws what stepping the model from Python draws."""
    from sampler_reference import reference_generate

    from seqkit.generation.sampler import generate_ids
    from seqkit.lm import load
    from seqkit.training.trainer import Trainer
    trainer = Trainer.start(small_config(corpus, steps=20, eval_every=10, dropout=0.0,
                                         lr=1e-2, lr_schedule="constant"), tmp_path / "run")
    first = trainer.evaluate()["loss"]
    assert trainer.run() == "done" and trainer.step == 20
    assert trainer.evaluate()["loss"] < first - 0.3
    lm = load(tmp_path / "run")
    assert lm.model.layers[0].cell is CELL and lm.model.dtype == np.float32
    text = lm.sample(length=30, seed=1)[0]
    assert text and len(text) <= 30 and lm.vocab.unknown(text) == []
    assert lm.sample(length=30, seed=1) == [text]  # seeded: the same text again
    uniforms = np.random.default_rng(3).random((40, 3))
    feed, banned, eos = [1, 5, 7], [1, 0], 2
    drawn = generate_ids(lm.model, feed, banned, eos, uniforms, 0.8)
    assert drawn == reference_generate(lm.model, feed, banned, eos, uniforms, 0.8, None, None)


def test_interrupted_and_resumed_run_ends_with_the_same_weights(corpus, tmp_path):
    """7 steps, then resumed to 15: the same checkpoint as one 15-step run (dropout on, state carried)."""
    from shared import model_arrays

    from seqkit.training.trainer import Trainer
    Trainer.start(small_config(corpus, steps=15), tmp_path / "whole").run()
    Trainer.start(small_config(corpus, steps=7), tmp_path / "part").run()
    resumed = Trainer.resume(tmp_path / "part", steps=15)
    assert resumed.step == 7 and resumed.state is not None
    resumed.run()
    (whole, whole_meta), (part, part_meta) = model_arrays(tmp_path / "whole"), model_arrays(tmp_path / "part")
    assert whole.keys() == part.keys() and any(k.startswith("optim.") for k in whole)
    for name in whole:
        np.testing.assert_array_equal(part[name], whole[name], err_msg=name)
    for key in ("step", "epoch", "position", "rng", "optimizer", "schedule"):
        assert part_meta[key] == whole_meta[key], key


def seqkit_cli(args, cwd, plugin_site):
    """Run the installed `seqkit` script with the fake site, if given, on PYTHONPATH."""
    env = dict(os.environ, PYTHONPATH=str(plugin_site) if plugin_site else "")
    return subprocess.run([str(Path(sys.executable).with_name("seqkit")), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_cli_finds_the_cell_through_its_entry_point(corpus, tmp_path):
    """A fake installed distribution whose entry point names CELL: train, sample and eval run with
    --cell mgu_test; without the distribution, --cell mgu_test is a usage error (2). (Resuming bit
    for bit is tested above, in this process: each process here compiles the cell's kernels anew.)

    The distribution's module is a copy of this file in its site: Numba's disk cache records the
    kernels a kernel calls by their module's name, which under pytest is tests.cells.test_plugin_cell
    (--import-mode=importlib) but test_plugin_cell in the processes the entry point starts, so
    they must not read the cache this process wrote beside this file."""
    site = tmp_path / "site"
    info = site / "mgu_test_plugin-0.0.1.dist-info"
    info.mkdir(parents=True)
    shutil.copy(__file__, site / "test_plugin_cell.py")
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: mgu-test-plugin\nVersion: 0.0.1\n")
    (info / "entry_points.txt").write_text(f"[seqkit.cells]\n{NAME} = test_plugin_cell:CELL\n")
    options = ["--cell", NAME, "--hidden", "16", "--layers", "2", "--batch-size", "4", "--seq-len", "16",
               "--eval-every", "6", "--sample-length", "10", "--seed", "3", "--lr-schedule", "constant"]

    def ok(*args):
        result = seqkit_cli(args, tmp_path, site)
        assert result.returncode == 0, result.stderr
        return result

    assert NAME in ok("train", "--help").stdout
    ok("train", str(corpus), *options, "--steps", "12", "-o", "run")
    assert seqkit.load(tmp_path / "run").config.cell == NAME
    sample = ok("sample", "run", "--length", "30", "--seed", "1", "--temperature", "0.8").stdout
    assert sample.strip()
    loss_line = ok("eval", "run", str(corpus)).stdout
    assert loss_line.startswith("loss ")
    assert 0 < float(loss_line.split()[1]) < math.log(len(seqkit.load(tmp_path / "run").vocab))

    refused = seqkit_cli(["train", str(corpus), *options, "--steps", "2", "-o", "other"], tmp_path, None)
    assert refused.returncode == 2 and NAME in refused.stderr and "Traceback" not in refused.stderr
    assert not (tmp_path / "other").exists()
