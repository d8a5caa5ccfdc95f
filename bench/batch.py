"""`glm batch` against the local fake service: wall time, CPU per line, peak RSS, a 429 storm.

    python bench/batch.py [--xargs-sample 200]

Each measurement runs glm as its own process (`python -m glm_cli batch`), its CPU time
and peak RSS read from `os.wait4`. `xargs -P 32 -n 1 glm ask` is run on a sample of
the 1,000 prompts (every process pays start-up, so the whole 1,000 takes minutes on
two cores) and scaled to 1,000; the table says so.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.fake_service import FakeService  # noqa: E402  # after the path is set
from tests.fake_service.scenarios import latency, storm  # noqa: E402

KEY = "sk-bench-0123456789"


def env_for(service: FakeService, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GLM_", "EVOLINK"))}
    env |= {"GLM_API_KEY": KEY, "GLM_BASE_URL": service.url, "HOME": str(home)}
    env |= {"GLM_HOME": str(home / "glm"), "XDG_CONFIG_HOME": str(home / "cfg")}
    return env


def write_prompts(path: Path, count: int) -> Path:
    with path.open("wb") as handle:
        for n in range(count):
            handle.write(b'"prompt %d"\n' % n)
    return path


def measure(args: list[str], env: dict[str, str]) -> tuple[float, float, float, int]:
    """(wall s, CPU s, peak RSS MiB, exit status) of one process."""
    started = time.monotonic()
    process = subprocess.Popen(
        args, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0 and process.stderr is not None:
        sys.stderr.write(process.stderr.read().decode())
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, process.returncode


def glm(*args: str) -> list[str]:
    return [sys.executable, "-m", "glm_cli", *args]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--xargs-sample", type=int, default=200)
    options = parser.parse_args()
    service = FakeService().start()
    rows: list[tuple[str, str, str, str]] = []
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        (tmp / "home").mkdir()
        env = env_for(service, tmp / "home")

        service.responder = latency(0.2)
        prompts = write_prompts(tmp / "1k.jsonl", 1000)
        wall, _, _, status = measure(glm("batch", "-q", "-j", "32", str(prompts)), env)
        ideal = 1000 * 0.2 / 32
        rows.append(
            (
                "1,000 prompts, 200 ms, -j 32: wall",
                f"{wall:.2f} s (exit {status})",
                f"ideal {ideal:.2f} s, ratio {wall / ideal:.2f}",
                "≤ 1.15 × ideal",
            )
        )
        sample = options.xargs_sample
        sample_file = write_prompts(tmp / "sample.txt", sample)
        lines = [f"prompt{n}" for n in range(sample)]
        sample_file.write_text("\n".join(lines) + "\n")
        started = time.monotonic()
        subprocess.run(
            ["xargs", "-P", "32", "-n", "1", *glm("ask", "-n", "-q", "--no-stream")],
            stdin=sample_file.open("rb"),
            stdout=subprocess.DEVNULL,
            env=env,
            check=False,
        )
        xargs_wall = (time.monotonic() - started) * 1000 / sample
        rows.append(
            (
                "same through xargs -P 32 -n 1 glm ask",
                f"{xargs_wall:.1f} s (from {sample} prompts × {1000 // sample})",
                f"batch is {xargs_wall / wall:.1f}× faster",
                "≥ 10×",
            )
        )

        service.reset()
        service.responder = latency(0.02)
        big = write_prompts(tmp / "10k.jsonl", 10_000)
        wall, cpu, rss, status = measure(glm("batch", "-q", "-j", "64", str(big)), env)
        rows.append(
            (
                "10,000 prompts, 20 ms, -j 64: CPU per line",
                f"{cpu / 10_000 * 1000:.3f} ms (wall {wall:.1f} s, exit {status})",
                "",
                "≤ 1.5 ms",
            )
        )
        rows.append(("10,000 prompts, 20 ms, -j 64: peak RSS", f"{rss:.1f} MiB", "", "≤ 60 MiB"))

        service.reset()
        service.responder = latency(0.0)
        huge = write_prompts(tmp / "100k.jsonl", 100_000)
        _, _, rss_small, _ = measure(glm("batch", "-q", "-j", "16", str(prompts)), env)
        _, _, rss_big, status = measure(
            glm("batch", "-q", "-j", "16", "--shard", "1/100", str(huge)), env
        )
        rows.append(
            (
                "peak RSS: 100,000 input lines vs 1,000 (1,000 sent each)",
                f"{rss_big:.1f} vs {rss_small:.1f} MiB",
                f"+{rss_big - rss_small:.2f} MiB",
                "≤ +5 MiB",
            )
        )

        service.reset()
        responder = storm(3.0, retry_after="1")
        service.responder = responder
        storm_input = write_prompts(tmp / "storm.jsonl", 200)
        out = tmp / "storm-out.jsonl"
        wall, _, _, status = measure(
            glm("batch", "-q", "-j", "16", "-o", str(out), str(storm_input)),
            env,
        )
        failed = sum(b'"error":null' not in line for line in out.read_bytes().splitlines())
        hits = responder.hits[0]  # type: ignore[attr-defined]
        rows.append(
            (
                "429 storm 3 s (Retry-After 1), 200 lines, -j 16",
                f"{failed} failed, {hits} requests in the storm (exit {status})",
                f"wall {wall:.1f} s",
                "0 failed, < 48",
            )
        )
    service.stop()
    print("| measure | glm batch | compared | target |")
    print("|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
