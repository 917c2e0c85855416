"""`python -m smtoolkit.serve`: the same as the `serve` console script (through the composition root)."""

from smtoolkit.entry import serve_main

if __name__ == "__main__":
    serve_main()
