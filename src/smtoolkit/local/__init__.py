"""Local jobs: the platform's side of training and processing jobs simulated on one machine (job trees under a
work dir, staged channels, Pipe-mode FIFOs, artifacts, metrics), the container's side run by the toolkit."""
