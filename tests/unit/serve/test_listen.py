"""The trial bind `serve` makes before fetching code or loading the model (real sockets on loopback)."""

from __future__ import annotations

import socket

import pytest

from smtoolkit.config.serving import ServingSettings
from smtoolkit.errors import ConfigError
from smtoolkit.serve.listen import check_listen_address


def test_a_free_port_passes_and_stays_free():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    check_listen_address(ServingSettings(bind_to_address="127.0.0.1", bind_to_port=port))
    check_listen_address(ServingSettings(bind_to_address="127.0.0.1", bind_to_port=port))  # released: twice


def test_a_port_in_use_names_the_port_variable():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        with pytest.raises(ConfigError, match=rf"address already in use \(SAGEMAKER_BIND_TO_PORT={port}\)"):
            check_listen_address(ServingSettings(bind_to_address="127.0.0.1", bind_to_port=port))


def test_an_address_not_of_this_host_names_the_address_variable():
    settings = ServingSettings(bind_to_address="192.0.2.1", bind_to_port=8080)  # TEST-NET-1: no host has it
    with pytest.raises(ConfigError, match=r"\(SAGEMAKER_BIND_TO_ADDRESS=192.0.2.1\)"):
        check_listen_address(settings)
