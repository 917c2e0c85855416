"""Local training, processing and transform jobs: spec -> hosts' trees, staged inputs and launches -> run ->
outputs -> the job's report."""
