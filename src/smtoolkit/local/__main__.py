"""`python -m smtoolkit.local` is `smtoolkit local`."""

from smtoolkit.local.command import local

local(prog_name="smtoolkit local")
