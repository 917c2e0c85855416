"""`python -m smtoolkit.local` is `smtoolkit local` (through the composition root)."""

from smtoolkit.entry import local_main

local_main()
