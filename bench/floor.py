"""The floor: the least a Python client on glm's stack can do for ``glm ask``.

Usage: ``floor.py ask [--no-stream] PROMPT`` with GLM_BASE_URL and GLM_API_KEY set.
typer is imported but unused, because glm has to load it anyway.
"""

import os
import sys

import httpx
import orjson
import typer  # noqa: F401

USAGE = "usage: floor.py ask [--no-stream] PROMPT"


def main(argv: list[str]) -> int:
    if argv[:1] in (["--help"], ["--version"]):
        print(USAGE if argv[0] == "--help" else "floor 0")
        return 0
    stream = "--no-stream" not in argv
    words = [a for a in argv[1:] if a != "--no-stream"]
    if argv[:1] != ["ask"] or len(words) != 1:
        print(USAGE, file=sys.stderr)
        return 2
    url = os.environ["GLM_BASE_URL"].rstrip("/") + "/v1/chat/completions"
    headers = {
        "Authorization": "Bearer " + os.environ["GLM_API_KEY"],
        "Content-Type": "application/json",
    }
    body = orjson.dumps(
        {"model": "glm-5.2", "messages": [{"role": "user", "content": words[0]}], "stream": stream}
    )
    timeout = httpx.Timeout(300.0, connect=10.0)
    with httpx.Client(verify=url.startswith("https:"), timeout=timeout) as client:
        if not stream:
            response = client.post(url, content=body, headers=headers).raise_for_status()
            print(orjson.loads(response.content)["choices"][0]["message"]["content"])
            return 0
        out, last = sys.stdout, ""
        with client.stream("POST", url, content=body, headers=headers) as response:
            response.raise_for_status()
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue
                payload = line[5:].strip()
                if payload == "[DONE]":
                    break
                choices = orjson.loads(payload).get("choices")
                text = choices[0].get("delta", {}).get("content") if choices else None
                if text:
                    out.write(text)
                    out.flush()
                    last = text
        if last and not last.endswith("\n"):
            out.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
