"""Process groups and wait statuses: signalling a group, and reaping without racing a Popen."""

from __future__ import annotations

import logging
import os

from smtoolkit.proc.signals import signal_name

log = logging.getLogger(__name__)


def has_exited(pid: int) -> bool:
    """Whether child `pid` has exited, leaving it unreaped (WNOWAIT): while its zombie lasts, its id (the
    group's id) cannot be reused, so the group can still be signalled safely."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def reap_exited(keep: int | None) -> None:
    """Reap every exited child except `keep` (left for its Popen, which must see its status).

    What PID 1 owes the orphans re-parented to it. It reaps *any* child, so a Popen elsewhere in this process
    may find its child already reaped (Popen then reports 0).
    """
    while True:
        try:
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return
        if info is None or info.si_pid == keep:
            return
        try:
            os.waitpid(info.si_pid, 0)
        except ChildProcessError:  # reaped by another thread in between
            continue
        log.debug("reaped orphan %d", info.si_pid)


def signal_group(group: int, signum: int) -> None:
    """Send `signum` to every process in `group`; an empty group is not an error."""
    try:
        os.killpg(group, signum)
    except ProcessLookupError:
        pass
    except PermissionError as exc:
        log.warning("cannot send %s to process group %d: %s", signal_name(signum), group, exc)


def group_exists(group: int) -> bool:
    """Whether any process (zombies included) is still in `group`."""
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True
