"""The typed, read-only view of a job: config files and variables in, pydantic models out. No side effects."""
