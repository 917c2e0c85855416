"""Adaptive batching: batcher (requests that arrive close together share one call), data (joining inputs into
a batch and splitting results back), handler (a script's batch_predict_fn, and what it changes at start)."""
