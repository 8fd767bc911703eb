"""The fused softmax cross-entropy kernel against NumPy, at vocabulary sizes around its
eight-way reductions, with logits large enough to overflow a plain exp."""
import numpy as np
import pytest

from seqkit.nn.kernels import softmax_cross_entropy


def numpy_loss_and_gradient(logits, targets, grad_scale):
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    loss = -np.log(probs[np.arange(len(targets)), targets]).sum()
    grad = probs.copy()
    grad[np.arange(len(targets)), targets] -= 1
    return loss, grad * grad_scale


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 1e-12), (np.float32, 2e-5)])
@pytest.mark.parametrize("vocab", [1, 7, 8, 9, 65, 1001])
def test_loss_and_gradient_equal_numpy(vocab, dtype, rtol):
    rng = np.random.default_rng(vocab)
    logits = (30 * rng.standard_normal((6, vocab))).astype(dtype)
    logits[0, -1] = 500  # exp(500) overflows even float64: the row's maximum is subtracted first
    logits[1, 0] = 500  # the maximum at the first element too
    targets = rng.integers(0, vocab, 6)
    dlogits = np.empty_like(logits)
    loss = softmax_cross_entropy(logits, targets, -1, 0.5, dlogits)
    expected_loss, expected_grad = numpy_loss_and_gradient(logits, targets, 0.5)
    assert loss == pytest.approx(expected_loss, rel=rtol)
    np.testing.assert_allclose(dlogits, expected_grad, rtol=rtol, atol=rtol * 1e-3)


def test_a_nan_logit_gives_a_nan_loss():
    """A NaN in the logits must show in the loss (the trainer stops on it), not be skipped by
    the maximum."""
    logits = np.zeros((1, 20))
    logits[0, 11] = np.nan
    assert np.isnan(softmax_cross_entropy(logits, np.array([3]), -1, 1.0, np.empty_like(logits)))
