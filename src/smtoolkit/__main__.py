"""`python -m smtoolkit` is the `smtoolkit` command."""

from smtoolkit.entry import main

main()
