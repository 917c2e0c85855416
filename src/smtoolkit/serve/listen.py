"""The listen address, tried before anything is fetched or loaded.

gunicorn finds a port in use only when it binds, then retries five times a second apart and logs a dozen errors
but no one line that says what to change. A trial bind at start-up says it once, as a configuration error.
"""

from __future__ import annotations

import errno
import socket

from smtoolkit.config.serving import ServingSettings
from smtoolkit.errors import ConfigError

# The variable to change for each way a bind fails.
CULPRITS = {errno.EADDRNOTAVAIL: "SAGEMAKER_BIND_TO_ADDRESS"}


def check_listen_address(settings: ServingSettings) -> None:
    """ConfigError naming the variable when `serve` cannot listen on its address and port (in use, not
    this host's address, a privileged port)."""
    address, port = settings.bind_to_address, settings.bind_to_port
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as trial:
        trial.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds: TIME_WAIT is no conflict
        try:
            trial.bind((address, port))
        except OSError as exc:
            variable = CULPRITS.get(exc.errno or 0, "SAGEMAKER_BIND_TO_PORT")
            value = address if variable.endswith("ADDRESS") else port
            reason = (exc.strerror or str(exc)).lower()
            raise ConfigError.single(
                "environment", f"cannot listen on {address} port {port}: {reason} ({variable}={value})"
            ) from None
