"""What the user sees: the terminal and its console (stderr), the sink (the one
writer of stdout), the renderers of neutral events, markdown and the spinner."""
