"""Compiled kernels, one module per cell: <cell>_step_forward, <cell>_step_backward,
<cell>_forward and <cell>_backward, each forward beside its backward."""
