"""Files glm creates or appends to, written so that nothing planted beside them can
redirect the write, and whole or not at all (SPEC §3.2)."""
