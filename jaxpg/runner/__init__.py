"""Training runs: the pure trainer, the chunked driver and what it writes.

``trainer`` (``make_train``: pure, jit/vmap-able), ``loop`` (``run``: the chunked
host driver), ``rundir`` (the run directory and the one reader of its
``config.json``), ``checkpoint`` (orbax), ``signals``, ``logging`` (JSONL,
TensorBoard, W&B) and ``progress`` (the live bar).
"""
