"""Local jobs: the platform's side of training, processing and batch transform jobs simulated on one machine (job
trees under a work dir, staged channels, Pipe-mode FIFOs, model data, the model server, artifacts, metrics), the
container's side run by the toolkit."""
