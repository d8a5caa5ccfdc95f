"""Benchmark glm against its floor, side by side, and print one table.

Each pair of commands (glm and its baseline) is run alternately, the first of
the pair swapping every round, with a local zero-latency server
(bench/server.py) in a thread of this process. Every child is started with
``os.posix_spawn`` and reaped with ``os.wait4``, which gives its wall time and
its own peak RSS. Medians are quoted, and the median of the pairwise ratios.
A warm-up run of each command checks its exit status and output first: a
failing command aborts the benchmark (exit 2). Exit 1 when a target fails.

Run from the repository: ``.venv/bin/python bench/run.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

from server import BenchServer

BENCH = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent  # the venv's own bin, never a pyenv shim
BIG = 50_000
SMALL = 8
ANSWER = b"Hello from the bench server."
DROPPED_ENV = ("GLM_", "EVOLINK_", "CLOUDSWAY_", "PYTHON")
ISOLATED = ("GLM_HOME", "XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME")
Check = Callable[[bytes], bool]
TIME_ROW = "{:<24} {:>4} {:>8} {:>8} {:>6} {:>8} {:>8}  {:<22} {}"
DERIVED_ROW = "{:<36} {:>8} {:>8} {:>8}  {:<22} {}"
HEADS = ("case", "runs", "glm ms", "base ms", "ratio", "glm MiB", "base MiB", "target", "result")


class BenchError(Exception):
    """The harness cannot measure: a command failed or printed the wrong thing."""


@dataclass
class Cmd:
    """One command line and what a correct run of it looks like."""

    label: str
    argv: list[str]
    check: Check
    requests: int = 0
    stream: bool | None = None
    seconds: list[float] = field(default_factory=list)
    rss_kib: list[int] = field(default_factory=list)
    output: bytes = b""  # from the checked warm-up run

    @property
    def ms(self) -> float:
        return statistics.median(self.seconds) * 1e3

    @property
    def mib(self) -> float:
        return statistics.median(self.rss_kib) / 1024


def answer(text: bytes, newline_optional: bool) -> Check:
    """Exactly ``text`` and a newline (or, where allowed, without it)."""
    return lambda out: out == text + b"\n" or (newline_optional and out == text)


def non_empty(out: bytes) -> bool:
    return bool(out.strip())


class Harness:
    """Spawns commands against one server with a clean, isolated environment."""

    def __init__(self, server: BenchServer, home: Path) -> None:
        self.server = server
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(DROPPED_ENV) and "proxy" not in k.lower()
        }
        for name in ISOLATED:  # no user config, history or cache
            env[name] = str(home / name.lower())
        # The log is off, as in the shared speed bar: these rows compare glm's request
        # path with the floor's; bench/logs.py measures what logging adds.
        env.update(GLM_BASE_URL=server.url, GLM_API_KEY="bench-key", GLM_NO_LOG="1")
        self.env = env
        self.out = home / "stdout"
        self.err = home / "stderr"

    def spawn(self, argv: list[str], stdout: str) -> tuple[int, float, int]:
        """Run argv to the end: (exit status, wall seconds, peak RSS in KiB)."""
        actions = [
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, stdout, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
            (os.POSIX_SPAWN_OPEN, 2, str(self.err), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
        ]
        start = time.perf_counter()
        pid = os.posix_spawn(argv[0], argv, self.env, file_actions=actions)
        _, status, usage = os.wait4(pid, 0)
        seconds = time.perf_counter() - start
        return os.waitstatus_to_exitcode(status), seconds, usage.ru_maxrss

    def run(self, cmd: Cmd, check_output: bool = False) -> tuple[float, int]:
        """One run; aborts unless it exits 0 with the expected requests (and output)."""
        before = self.server.requests
        code, seconds, rss = self.spawn(cmd.argv, str(self.out) if check_output else os.devnull)
        where = f"{cmd.label}: `{shlex.join(cmd.argv)}`"
        if code != 0:
            raise BenchError(f"{where} exited {code}; stderr ends:\n{tail(self.err)}")
        if (sent := self.server.requests - before) != cmd.requests:
            raise BenchError(f"{where} sent {sent} request(s), expected {cmd.requests}")
        if cmd.requests and (stream := self.server.last_stream) is not cmd.stream:
            raise BenchError(f"{where} sent stream={stream}, expected {cmd.stream}")
        if check_output:
            out = cmd.output = self.out.read_bytes()
            if not cmd.check(out):
                raise BenchError(f"{where} printed wrong output ({len(out)} B): {out[:80]!r}")
        return seconds, rss

    def measure(self, cmds: list[Cmd], runs: int) -> None:
        """One checked warm-up each, then ``runs`` rounds, alternating the order."""
        for cmd in cmds:
            self.run(cmd, check_output=True)
        for i in range(runs):
            for cmd in cmds if i % 2 == 0 else cmds[::-1]:
                seconds, rss = self.run(cmd)
                cmd.seconds.append(seconds)
                cmd.rss_kib.append(rss)

    def heavy_imports(self, cmd: list[str]) -> list[str] | None:
        """Modules of httpx or orjson that ``cmd --help`` imports; None if cmd is not Python.

        The command is run as ``python -X importtime SCRIPT --help``: the console
        script itself, exactly as installed, so no knowledge of glm's entry
        function is needed. importtime writes one stderr line per module at the
        moment it is first imported, so the answer does not depend on how the CLI
        exits (SystemExit, os._exit, an atexit hook of its own) or on modules that
        are later removed from sys.modules, and needs no code injected into glm.
        """
        if Path(cmd[0]).name.startswith("python"):
            argv = [cmd[0], "-X", "importtime", *cmd[1:], "--help"]
        elif is_python_script(Path(cmd[0])):
            argv = [sys.executable, "-X", "importtime", *cmd, "--help"]
        else:
            return None
        code, _, _ = self.spawn(argv, os.devnull)
        if code != 0:
            raise BenchError(f"`{shlex.join(argv)}` exited {code}")
        lines = [line for line in self.err.read_text().splitlines() if line[:12] == "import time:"]
        names = [line.rsplit("|", 1)[1].strip() for line in lines]
        if len(names) < 2:
            raise BenchError(f"`{shlex.join(argv)}` printed no import times")
        return [n for n in names[1:] if n.split(".")[0] in ("httpx", "orjson")]


def tail(path: Path, lines: int = 15) -> str:
    """The last lines of a file, for an error message."""
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def is_python_script(path: Path) -> bool:
    """A file whose ``#!`` line names a Python interpreter, like a console script."""
    with path.open("rb") as file:
        first = file.readline(200)
    return first.startswith(b"#!") and b"python" in first


def resolve(command: str) -> list[str]:
    """A --glm-cmd string as argv: ``python`` is this venv's, relative paths made absolute."""
    argv = shlex.split(command)
    if argv[0] in ("python", "python3"):
        argv[0] = sys.executable
    return [os.path.abspath(a) if i < 2 and "/" in a else a for i, a in enumerate(argv)]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def main() -> int:
    parser = argparse.ArgumentParser(description="Benchmark glm against bench/floor.py.")
    add = parser.add_argument
    add("--runs", type=int, default=15, help="timed runs per command, start-up cases (15)")
    add("--stream-runs", type=int, default=5, help=f"timed runs per command, chunks {BIG} (5)")
    add("--glm-cmd", help=argparse.SUPPRESS)  # e.g. "python bench/floor.py" to test the harness
    args = parser.parse_args()
    if min(args.runs, args.stream_runs) < 1:
        parser.error("--runs and --stream-runs must be at least 1")
    py = sys.executable
    glm = resolve(args.glm_cmd) if args.glm_cmd else [str(BIN / "glm")]
    if not os.access(glm[0], os.X_OK):
        print(f"run.py: {glm[0]} is not installed; install glm or pass --glm-cmd", file=sys.stderr)
        return 2
    floor = [py, str(BENCH / "floor.py")]
    with tempfile.TemporaryDirectory(prefix="glm-bench-") as tmp, BenchServer() as server:
        harness = Harness(server, Path(tmp))
        try:
            return report(harness, glm, floor, args.runs, args.stream_runs)
        except BenchError as exc:
            print(f"run.py: abort: {exc}", file=sys.stderr)
            return 2


def pairwise(a: Cmd, b: Cmd) -> float:
    """The median of the per-round ratios of a's time to b's."""
    return statistics.median(x / y for x, y in zip(a.seconds, b.seconds, strict=True))


def net_us(big: Cmd, small: Cmd) -> list[float]:
    """Per round, the net cost of one streamed chunk in microseconds."""
    pairs = zip(big.seconds, small.seconds, strict=True)
    return [(b - s) * 1e6 / (BIG - SMALL) for b, s in pairs]


def time_row(name: str, a: Cmd, b: Cmd | None, target: str, ok: bool | None) -> tuple[str, bool]:
    """A printed row of the time table, and False if it fails its target."""
    base = [f"{b.ms:.1f}", f"{pairwise(a, b):.2f}", f"{b.mib:.1f}"] if b else ["-"] * 3
    result = "" if ok is None else verdict(ok)
    cells = [*base[:2], f"{a.mib:.1f}", base[2], target, result]
    return TIME_ROW.format(name, len(a.seconds), f"{a.ms:.1f}", *cells), ok is not False


def report(h: Harness, glm: list[str], floor: list[str], runs: int, stream_runs: int) -> int:
    """Measure every case, print the machine and the table; 1 if a target fails."""
    py = sys.executable

    def ask_pair(label: str, opts: list[str], prompt: str, text: bytes) -> tuple[Cmd, Cmd]:
        stream = "--no-stream" not in opts
        argv = ["ask", *opts, prompt]
        return (
            Cmd(f"glm {label}", [*glm, *argv], answer(text, False), 1, stream),
            Cmd(f"floor {label}", [*floor, *argv], answer(text, True), 1, stream),
        )

    bare = [py, str(BENCH / "bare_typer.py"), "--version"]
    version = (
        Cmd("glm --version", [*glm, "--version"], non_empty),
        Cmd("bare typer", bare, non_empty),
    )
    help_cmd = Cmd("glm --help", [*glm, "--help"], non_empty)
    no_stream = ask_pair("--no-stream", ["--no-stream"], "hi", ANSWER)
    small = ask_pair(f"chunks {SMALL}", [], f"chunks {SMALL}", b"x" * SMALL)
    big = ask_pair(f"chunks {BIG}", [], f"chunks {BIG}", b"x" * BIG)

    h.measure(list(version), runs)
    h.measure([help_cmd], runs)
    heavy = h.heavy_imports(glm)
    h.measure(list(no_stream), runs)
    h.measure(list(small), runs)
    # Each big run is paired with a chunks-8 run of the same round for the per-chunk
    # cost, so a slow spell of the machine (noise that lasts seconds) cancels out.
    paired = ask_pair(f"chunks {SMALL}", [], f"chunks {SMALL}", b"x" * SMALL)
    h.measure([*big, *paired], stream_runs)

    glm_version = version[0].output.decode(errors="replace").strip()
    versions = ", ".join(f"{p} {metadata.version(p)}" for p in ("typer", "httpx", "orjson"))
    nproc, load = len(os.sched_getaffinity(0)), os.getloadavg()[0]
    print(f"machine: {platform.platform()}, nproc {nproc}, load average {load:.2f}")
    print(f"python:  {platform.python_version()} ({py}); {versions}")
    print(f"glm:     {shlex.join(glm)} -> {glm_version}")
    print(f"floor:   {shlex.join(floor)}; server {h.server.url}\n")

    r_version, r_ask = pairwise(*version), pairwise(*no_stream)
    help_target = "imports unchecked" if heavy is None else "no httpx/orjson import"
    rows = [
        time_row("--version (base: typer)", *version, "ratio <= 1.25", r_version <= 1.25),
        time_row("--help", help_cmd, None, help_target, None if heavy is None else not heavy),
        time_row('ask --no-stream "hi"', *no_stream, "ratio <= 1.2", r_ask <= 1.2),
        time_row(f"stream chunks {SMALL}", *small, "", None),
        time_row(f"stream chunks {BIG}", *big, "", None),
    ]
    print(TIME_ROW.format(*HEADS))
    print("\n".join(row for row, _ in rows))
    if heavy:
        print(f"  --help imported: {', '.join(sorted({n.split('.')[0] for n in heavy}))}")

    nets = [net_us(b, s) for b, s in zip(big, paired, strict=True)]
    per_chunk = [statistics.median(net) for net in nets]
    chunk_ratio = statistics.median(g / f for g, f in zip(*nets, strict=True))
    growth = [b.mib - s.mib for b, s in zip(big, small, strict=True)]
    rss = [big[0].mib, big[1].mib]
    checks = [
        ("net per-chunk cost (us)", per_chunk, chunk_ratio, "glm/floor", 1.5),
        (f"peak RSS, chunks {BIG} (MiB)", rss, rss[0] - rss[1], "glm-floor MiB", 6.0),
        (f"RSS chunks {BIG} - {SMALL} (MiB)", growth, growth[0], "glm MiB", 1.0),
    ]
    print("\n" + DERIVED_ROW.format("derived", "glm", "floor", "value", "target", "result"))
    failed = not all(ok for _, ok in rows)
    for name, (g, f), value, what, limit in checks:
        failed |= value > limit
        cells = f"{g:.2f}", f"{f:.2f}", f"{value:.2f}", f"{what} <= {limit:g}"
        print(DERIVED_ROW.format(name, *cells, verdict(value <= limit)))
    print("\nTimes and RSS are medians; ratio is the median of the pairwise glm/base ratios;")
    print(f"RSS is the child's own peak (ru_maxrss). Per-chunk cost: (t_{BIG} - t_{SMALL}) /")
    print(f"{BIG - SMALL} per round, each big run paired with a chunks-{SMALL} run of its round;")
    print("its value is the median of the per-round glm/floor ratios.")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
