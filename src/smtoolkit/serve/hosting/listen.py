"""The listen socket, opened before anything is fetched or loaded and handed to gunicorn: the port is bound once.

gunicorn finds a port in use only when it binds, then retries five times a second apart and logs a dozen errors
but no one line that says what to change. So `serve` binds first, saying what to change once, as a configuration
error; and it keeps the socket listening, so that no other process can take the port while the code is fetched,
its requirements installed and the script imported (a bound socket that does not listen yet is no obstacle to
one that sets SO_REUSEADDR, as servers do). gunicorn adopts the socket by its descriptor (`fd://N`, the bind form
it documents), so the first bind is the only one. Connections made before gunicorn starts wait in the backlog.
"""

from __future__ import annotations

import errno
import socket

from smtoolkit.config.serving import ServingSettings
from smtoolkit.errors import ConfigError

# The variable to change for each way a bind fails.
CULPRITS = {errno.EADDRNOTAVAIL: "SAGEMAKER_BIND_TO_ADDRESS"}


def open_listener(settings: ServingSettings) -> socket.socket:
    """A socket bound to `serve`'s address and port and listening; ConfigError naming the variable when it
    cannot be (the port in use, not this host's address, a privileged port)."""
    address, port = settings.bind_to_address, settings.bind_to_port
    listener = socket.socket(socket.AF_INET6 if ":" in address else socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds: TIME_WAIT is no conflict
        listener.bind((address, port))
        listener.listen()
    except OSError as exc:
        listener.close()
        variable = CULPRITS.get(exc.errno or 0, "SAGEMAKER_BIND_TO_PORT")
        value = address if variable.endswith("ADDRESS") else port
        reason = (exc.strerror or str(exc)).lower()
        raise ConfigError.single(
            "environment", f"cannot listen on {address} port {port}: {reason} ({variable}={value})"
        ) from None
    return listener


def gunicorn_bind(listener: socket.socket) -> list[str]:
    """gunicorn's `bind` setting adopting `listener`. gunicorn owns the descriptor from then on (it makes its own
    socket of it and closes this one), so `listener` lets go of it: call once, and only right before gunicorn."""
    return [f"fd://{listener.detach()}"]
