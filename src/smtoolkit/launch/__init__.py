"""Prepare and run the user's code: fetch it, install its dependencies, plan and supervise the launch."""
