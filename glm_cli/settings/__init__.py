"""Where a run goes and with what: the config file, the providers, the key, and the
precedence flag > environment > config > default. Reads files, never the network."""
