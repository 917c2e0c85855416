"""`python -m smtoolkit` is the `smtoolkit` command."""

from smtoolkit.cli import main

main()
