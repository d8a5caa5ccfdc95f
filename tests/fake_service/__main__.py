"""`python3 -m tests.fake_service [--port N]`, from a clone: the tests' fake GLM
service, to try glm by hand without a key or a network.

It answers every request with the fake answer (both protocols, streamed or not) and
accepts any API key. Its URL is the first line on stdout; it serves until Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
import threading

from .server import FakeService


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m tests.fake_service",
        description="The fake GLM service of glm's tests, on 127.0.0.1.",
    )
    parser.add_argument("--port", type=int, default=8080, help="0: any free port")
    port = parser.parse_args(argv).port
    try:
        service = FakeService(port).start()
    except OSError as error:
        print(f"fake_service: cannot listen on port {port}: {error.strerror}", file=sys.stderr)
        return 1
    print(service.url, flush=True)
    print(
        f"try: GLM_BASE_URL={service.url} GLM_API_KEY=x glm ask hi  (Ctrl-C stops)",
        file=sys.stderr,
        flush=True,
    )
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        service.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
