"""The figures of issue 13: what logging and the cache cost.

    python bench/logs.py [RUNS]

- `glm ask --no-stream` with logging on vs `--no-log` (target ≤ 1.05×);
- a cache hit (`glm ask --cache`) vs `glm --version` (≤ 1.2×);
- `glm logs -q WORD` and `glm logs --usage` over 100,000 logged exchanges vs
  `glm --version` (≤ 1.5× and ≤ 2×).

Each pair runs interleaved (the pair swapping every round) against the local
zero-latency server (bench/server.py); the median of each is compared.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))

from server import BenchServer

GLM = [sys.executable, "-m", "glm_cli"]
ROWS = 100_000


def timed(argv: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{argv}: exit {done.returncode}: {done.stderr.decode()}")
    return elapsed


def pair(a: list[str], b: list[str], env: dict[str, str], runs: int) -> tuple[float, float]:
    ta: list[float] = []
    tb: list[float] = []
    for i in range(runs):
        first, second = (a, b) if i % 2 == 0 else (b, a)
        t1, t2 = timed(first, env), timed(second, env)
        if i % 2 == 0:
            ta.append(t1)
            tb.append(t2)
        else:
            ta.append(t2)
            tb.append(t1)
    return statistics.median(ta), statistics.median(tb)


def fill(path: Path) -> None:
    """100,000 rows of logged exchanges, through the real store and Recorder."""
    from glm_cli.history import schema
    from glm_cli.history.log import Entry, insert

    db = schema.connect(path, create_missing=True)
    assert db is not None
    words = ["alpha", "backup", "cron", "delta", "make", "python", "shell", "zebra"]
    batch: list[Entry] = []
    for i in range(ROWS):
        w = words[i % len(words)]
        batch.append(
            Entry(
                command="ask",
                time=f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}T12:00:00Z",
                model="glm-5.2",
                prompt=f"question {i} about {w}",
                answer=f"answer {i}: {w} " + "lorem ipsum " * 20,
                usage={"prompt_tokens": 12, "completion_tokens": 34, "total_tokens": 46},
                body='{"model":"glm-5.2"}',
            )
        )
        if len(batch) == 5000:
            insert(db, path, batch)
            batch = []
    if batch:
        insert(db, path, batch)
    db.close()


def main() -> int:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    rows: list[tuple[str, float, float, float, str]] = []
    with tempfile.TemporaryDirectory(prefix="glm-bench-logs-") as tmp, BenchServer() as server:
        home = Path(tmp)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GLM_", "EVOLINK"))}
        env.update(GLM_BASE_URL=server.url, GLM_API_KEY="bench-key", GLM_HOME=str(home / "a"))
        ask = [*GLM, "ask", "-n", "--no-stream", "hi"]
        on, off = pair(ask, [*ask[:-1], "--no-log", "hi"], env, runs)
        rows.append(("ask --no-stream: log on / --no-log", on, off, on / off, "≤ 1.05"))
        hit_cmd = [*GLM, "ask", "-n", "--cache", "--no-log", "cached question"]
        timed(hit_cmd, env)
        version = [*GLM, "--version"]
        hit, ver = pair(hit_cmd, version, env, runs)
        rows.append(("cache hit / --version", hit, ver, hit / ver, "≤ 1.2"))
        env["GLM_HOME"] = str(home / "b")
        (home / "b").mkdir()
        fill(home / "b" / "glm.db")
        query, ver = pair([*GLM, "logs", "-q", "zebra"], version, env, runs)
        rows.append(("logs -q WORD (100k rows) / --version", query, ver, query / ver, "≤ 1.5"))
        usage, ver = pair([*GLM, "logs", "--usage"], version, env, runs)
        rows.append(("logs --usage (100k rows) / --version", usage, ver, usage / ver, "≤ 2"))
    print("| measure | a (ms) | b (ms) | ratio | target |\n|---|---|---|---|---|")
    for name, a, b, ratio, target in rows:
        print(f"| {name} | {a * 1000:.1f} | {b * 1000:.1f} | {ratio:.2f} | {target} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
