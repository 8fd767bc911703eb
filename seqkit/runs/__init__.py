"""The run layer: the run directory and every file in it (configuration, vocabulary,
checkpoints, the metrics log), written atomically and read without pickle; a model saved as a
run; .safetensors files for PyTorch; the loss curves drawn from a run's log."""
