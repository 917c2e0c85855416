"""Processes: spawn, supervise, signals, stopping a group with grace, stream relay, cgroup counters."""
