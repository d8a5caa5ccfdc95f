"""Talking to the model: an exchange (one request, its answer pulled as events, its
retries) and a turn (a loop of exchanges that runs the user's tools)."""
