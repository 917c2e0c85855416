"""The platform's side of a local job: job trees, the work dir, staging, artifacts and outputs, metrics, hosts
and their names, the container runner, live mirrors, model data and the model server."""
