"""A tool command for the tests that leaves processes behind it.

    spawn_tool.py MODE

background  prints "ok", leaves a child (same process group) asleep holding stdout
            and stderr, and exits 0 at once
escape      leaves a child in a session of its own (out of reach of a group kill)
            asleep holding stdout, then sleeps itself
ready       leaves a child (same group) asleep holding stderr, says "tool-ready PGID"
            on stderr, then sleeps

With SPAWN_TOOL_PIDS set, the pid of each child left behind is appended to that file,
so a test can end it whatever happens.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]


def leave_child(**kwargs: object) -> None:
    child = subprocess.Popen(SLEEP, **kwargs)  # type: ignore[call-overload]
    pids = os.environ.get("SPAWN_TOOL_PIDS")
    if pids:
        with open(pids, "a", encoding="utf-8") as handle:
            handle.write(f"{child.pid}\n")


def main() -> int:
    sys.stdin.buffer.read()
    mode = sys.argv[1]
    if mode == "background":
        leave_child()
        sys.stdout.write("ok\n")
        return 0
    if mode == "escape":
        leave_child(start_new_session=True)
        time.sleep(60)
        return 0
    leave_child(stdout=subprocess.DEVNULL)
    sys.stderr.write(f"tool-ready {os.getpgrp()}\n")
    sys.stderr.flush()
    time.sleep(60)
    return 0


if __name__ == "__main__":
    sys.exit(main())
