"""The generation layer: what a trained model does for its users, drawing text (the compiled
sampler) and showing what it makes of a text (seqkit show's page)."""
