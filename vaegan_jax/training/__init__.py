"""Config -> trained workdir.

`train_loop.train` drives the jitted, pmapped D and G steps of `train_lib`
(losses in `losses`), checks configs (`config_lib`) and handles bad steps and
signals (`faults`).
"""
