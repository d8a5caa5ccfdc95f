"""Generate what ships beside the code from the CLI itself: the man page and the
bash, zsh and fish completions. Run from a source checkout:

    python -m glm_cli.shipped           # rewrite man/glm.1 and completions/*
    python -m glm_cli.shipped --check   # exit 1, naming each stale file
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from glm_cli.shipped.bash import render_bash
from glm_cli.shipped.cli_tree import cli_tree
from glm_cli.shipped.fish import render_fish
from glm_cli.shipped.manpage import render_manpage
from glm_cli.shipped.targets import BASH, FISH, MANPAGE, ROOT, TEMPLATE, ZSH
from glm_cli.shipped.zsh import render_zsh


def outputs(root: Path = ROOT) -> dict[Path, str]:
    """Every generated file (relative to the checkout) and the text it should hold."""
    tree = cli_tree()
    template = (root / TEMPLATE).read_text(encoding="utf-8")
    return {
        MANPAGE: render_manpage(tree, template),
        BASH: render_bash(tree),
        ZSH: render_zsh(tree),
        FISH: render_fish(tree),
    }


def _differs(target: Path, text: str) -> bool:
    return not target.exists() or target.read_text(encoding="utf-8") != text


def stale(root: Path = ROOT) -> list[Path]:
    return [path for path, text in outputs(root).items() if _differs(root / path, text)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m glm_cli.shipped",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--check", action="store_true", help="only report stale files (exit 1)")
    parser.add_argument("--root", type=Path, default=ROOT, help="the source checkout")
    args = parser.parse_args(argv)
    if args.check:
        found = stale(args.root)
        for path in found:
            print(f"stale: {path} (run: python -m glm_cli.shipped)", file=sys.stderr)
        return 1 if found else 0
    for path, text in outputs(args.root).items():
        target = args.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if _differs(target, text):
            target.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    return 0
