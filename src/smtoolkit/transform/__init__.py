"""The platform's side of batch transform: list the inputs, split them into records, batch the records,
invoke a server on the container contract, and assemble `<name>.out` files in input order.

`smtoolkit transform` (transform.command) is the entry point; `run_transform` (transform.runner) the engine.
"""
