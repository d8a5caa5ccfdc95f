"""A tool command for the tests: reads the call's arguments from stdin, answers on stdout.

    echo_tool.py [MODE] [ARG...]

echo      (default) prints {"argv": [...], "stdin": "<exactly what came on stdin>"}
weather   prints "sunny in CITY" for {"city": CITY}
fail      prints "partial" to stdout and "boom" to stderr, exits 3
sleep N   sleeps N seconds, then prints "woke"

With ECHO_TOOL_LOG set, each run appends one line of JSON (argv and stdin) to that file.
"""

from __future__ import annotations

import json
import os
import sys
import time


def main() -> int:
    data = sys.stdin.buffer.read().decode("utf-8")
    args = sys.argv[1:]
    mode = args[0] if args else "echo"
    log = os.environ.get("ECHO_TOOL_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"argv": args, "stdin": data}) + "\n")
    if mode == "weather":
        sys.stdout.write(f"sunny in {json.loads(data)['city']}")
    elif mode == "fail":
        sys.stdout.write("partial")
        sys.stderr.write("boom\n")
        return 3
    elif mode == "sleep":
        time.sleep(float(args[1]))
        sys.stdout.write("woke")
    else:
        sys.stdout.write(json.dumps({"argv": args, "stdin": data}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
