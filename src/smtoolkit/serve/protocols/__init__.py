"""Serving protocols besides SageMaker's, as transport-free pieces: each parses its request bodies and builds
its response bodies; the serving core routes them to the same user handlers."""
