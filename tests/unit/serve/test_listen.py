"""The listen socket `serve` opens before fetching code or loading the model (real sockets on loopback)."""

from __future__ import annotations

import errno
import socket

import pytest

from smtoolkit.config.serving import ServingSettings
from smtoolkit.errors import ConfigError
from smtoolkit.serve.hosting.listen import gunicorn_bind, open_listener


def _free_port(family: socket.AddressFamily, address: str) -> int:
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.bind((address, 0))
        return int(probe.getsockname()[1])


def _competitor_binds(family: socket.AddressFamily, address: str, port: int) -> int:
    """0 when another socket binds the port, else the errno (with SO_REUSEADDR, as servers set it)."""
    with socket.socket(family, socket.SOCK_STREAM) as competitor:
        competitor.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            competitor.bind((address, port))
        except OSError as exc:
            return exc.errno or -1
        return 0


@pytest.mark.parametrize(("family", "address"), [(socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")])
def test_the_port_is_held_until_the_socket_closes(family: socket.AddressFamily, address: str):
    port = _free_port(family, address)
    with open_listener(ServingSettings(bind_to_address=address, bind_to_port=port)) as listener:
        assert listener.family == family
        assert _competitor_binds(family, address, port) == errno.EADDRINUSE
    assert _competitor_binds(family, address, port) == 0
    with open_listener(ServingSettings(bind_to_address=address, bind_to_port=port)):  # released: again
        pass


def test_gunicorn_is_handed_the_descriptor_and_the_socket_lets_go_of_it():
    port = _free_port(socket.AF_INET, "127.0.0.1")
    with open_listener(ServingSettings(bind_to_address="127.0.0.1", bind_to_port=port)) as listener:
        fd = listener.fileno()
        assert gunicorn_bind(listener) == [f"fd://{fd}"]
        assert listener.fileno() == -1  # closing it now closes nothing: the descriptor is gunicorn's
    adopted = socket.socket(fileno=fd)  # still open, still holding the port
    try:
        assert adopted.getsockname()[1] == port and _competitor_binds(socket.AF_INET, "127.0.0.1", port)
    finally:
        adopted.close()


def test_a_port_in_use_names_the_port_variable():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(ConfigError, match=rf"address already in use \(SAGEMAKER_BIND_TO_PORT={port}\)"):
            open_listener(ServingSettings(bind_to_address="127.0.0.1", bind_to_port=port))


def test_an_address_not_of_this_host_names_the_address_variable():
    settings = ServingSettings(bind_to_address="192.0.2.1", bind_to_port=8080)  # TEST-NET-1: no host has it
    with pytest.raises(ConfigError, match=r"\(SAGEMAKER_BIND_TO_ADDRESS=192.0.2.1\)"):
        open_listener(settings)
