"""Local jobs: the platform's side of training, processing and batch transform jobs simulated on one machine, the
container's side run by the toolkit.

By role, each importing only the ones below it (tests/unit/test_layers.py): `cli` (the `smtoolkit local` commands
and their flags) > `jobs` (train, process, transform: spec -> hosts -> run -> report) > `platform` (job trees,
the work dir, staging, artifacts and outputs, metrics, hosts and their names, containers, live mirrors, model data,
the model server) > `spec` (the CreateTrainingJob, CreateProcessingJob and CreateTransformJob request models).
"""
