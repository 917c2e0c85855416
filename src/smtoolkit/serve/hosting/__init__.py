"""gunicorn as the process manager of `serve`: server (one model), multimodel (a multi-model endpoint),
startup (loading the model while answering 503, freezing start-up objects), listen (the one bind of the port)."""
