"""The command line: typer declarations, flags read and checked, the prompt
assembled, and the one place a run's failure becomes an exit code."""
