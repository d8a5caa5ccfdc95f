"""glm — a Unix-style command-line client for the GLM-5.2 model."""

__version__ = "0.1.0"
