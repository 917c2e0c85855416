"""`python -m smtoolkit.serve`: the same as the `serve` console script."""

from smtoolkit.serve.server import main

if __name__ == "__main__":
    raise SystemExit(main())
