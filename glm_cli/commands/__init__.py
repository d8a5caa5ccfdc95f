"""One module per command; `common` holds what they share (the exchange itself)."""
