"""The `smtoolkit local` commands and their flags (the group in `group`, one module per command)."""
