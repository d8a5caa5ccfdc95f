"""`python -m glm_cli.shipped [--check]`: see `glm_cli.shipped.command`."""

from glm_cli.shipped.command import main

if __name__ == "__main__":
    raise SystemExit(main())
