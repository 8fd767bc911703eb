"""The cell registry's contract: every cell's step kernels chain to its sequence kernels, and
registration refuses what it cannot use, without letting one bad plug-in break seqkit."""
import os
import subprocess
import sys

import numpy as np
import pytest
from variants import CELL_VARIANTS, make_cell

from seqkit import Model, cells
from seqkit.cells import Cell


@pytest.mark.parametrize("B, H", [(3, 4), (8, 363)])  # the second: many panels, and a tail in each
def test_step_kernels_chain_to_the_sequence_kernels(variant, B, H):
    """step_forward T times, then step_backward T times back, give what forward and backward
    give, to rounding (the step kernels multiply through BLAS, the sequence kernels on packed
    weights, summing in another order): the cache, the states, dxproj and the initial state's
    gradient."""
    T = 5
    rng = np.random.default_rng(0)
    layer = make_cell(variant, 2, H)
    spec, kernels, W, b = layer.cell, layer.kernels, layer.params["weight_hh"], layer.params["bias_hh"]
    G, S, C, K = spec.gates * H, spec.state_size, spec.cache_size * H, spec.scratch_size * H
    xproj = rng.standard_normal((T, B, G))
    states, stepped = (np.zeros((S, T + 1, B, H)) for _ in range(2))
    states[:, 0] = stepped[:, 0] = rng.uniform(-0.9, 0.9, (S, B, H))
    cache, step_cache = np.empty((T, B, C)), np.empty((T, B, C))
    kernels.forward(xproj, states, W, b, cache)
    for t in range(T):
        kernels.step_forward(xproj[t], stepped, t, W, b, step_cache[t])
    np.testing.assert_allclose(stepped, states, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(step_cache, cache, rtol=1e-11, atol=1e-12)

    dy, dfinal = rng.standard_normal((T, B, H)), rng.standard_normal((S, B, H))
    dxproj, dinitial = np.empty((T, B, G)), np.empty((S, B, H))
    kernels.backward(dy, dfinal, states, cache, W, dxproj, dinitial, np.empty_like(W), np.empty_like(b),
                     np.empty((T, B, K)))
    dstate, step_dxproj, dprev, scratch = dfinal.copy(), np.empty((T, B, G)), np.empty((S, B, H)), np.empty((B, K))
    dstate[0] += dy[T - 1]
    for t in range(T - 1, -1, -1):
        kernels.step_backward(dstate, states, t, cache[t], W, step_dxproj[t], dprev, scratch)
        if t > 0:
            dstate = dprev.copy()
            dstate[0] += dy[t - 1]
    np.testing.assert_allclose(step_dxproj, dxproj, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(dprev, dinitial, rtol=1e-11, atol=1e-12)


def test_register_refuses_what_it_cannot_use():
    lstm = cells.get("lstm")
    assert cells.register(lstm) is lstm  # the same cell again: nothing changes
    with pytest.raises(ValueError, match="a cell named 'lstm' is already registered"):
        cells.register(Cell("lstm", gates=4, state_size=2, kernels=lstm.kernels))
    with pytest.raises(TypeError, match="register takes a seqkit.cells.Cell, got dict"):
        cells.register({"name": "x"})
    with pytest.raises(ValueError, match=r"got 'nope' \(a cell from a plug-in needs the package"):
        cells.get("nope")
    with pytest.raises(TypeError, match="no registered cell takes the option peephole"):
        Model(5, 4, cell="lstm", peephole=True)
    assert set(CELL_VARIANTS) == {"rnn_tanh", "rnn_relu", "lstm", "gru"}  # every built-in kernel set is tested


def test_a_broken_plug_in_costs_its_cell_only(tmp_path):
    """Three entry points: one whose module fails to import, one naming a non-Cell, one good. The
    good cell registers; each bad one is a warning naming it; seqkit goes on."""
    info = tmp_path / "plugins-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: plugins\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[seqkit.cells]\nbroken = no_such_module:CELL\nnot_a_cell = good_plugin:NOT_A_CELL\n"
        "twin = good_plugin:CELL\n")
    (tmp_path / "good_plugin.py").write_text(
        "from seqkit.cells import Cell, gru\n"
        "CELL = Cell('gru_twin', gates=3, state_size=1, cache_size=4, scratch_size=3, kernels=gru.CELL.kernels)\n"
        "NOT_A_CELL = 42\n")
    code = "import seqkit.cells as c; print(' '.join(c.names()))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=dict(os.environ, PYTHONPATH=str(tmp_path)), timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["rnn", "lstm", "gru", "gru_twin"]
    assert ("entry point broken (no_such_module:CELL) was skipped: No module named 'no_such_module'"
            in result.stderr)
    assert ("entry point not_a_cell (good_plugin:NOT_A_CELL) was skipped: register takes a seqkit.cells.Cell, "
            "got int" in result.stderr)
