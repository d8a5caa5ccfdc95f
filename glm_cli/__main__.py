"""`python -m glm_cli` runs the same entry point as the `glm` script."""

from glm_cli.cli.app import main

if __name__ == "__main__":
    main()
