"""The runs layer: the run directory and every file in it (config, vocabulary, checkpoints,
metrics, the lock), a model saved as a run, .safetensors files, the loss curves."""
