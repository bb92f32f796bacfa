"""Images and masks in: the tf.data training pipeline (`input_pipeline`),
image folders, the mask generators (`masks`, `mask_shapes`, `rasterize`),
the fixed held-out evaluation sets (`eval_sets`) and the embedded photos."""
