"""The serving core on a transport: wsgi (gunicorn's sync and gthread classes), asgi on uvicorn (uvicorn_worker,
the async class), and placement (where the async adapter runs a route's user code: its pool or the loop)."""
