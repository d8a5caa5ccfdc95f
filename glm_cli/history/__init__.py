"""What is kept between runs: conversations in the SQLite store and in JSONL files,
every write whole or not at all."""
