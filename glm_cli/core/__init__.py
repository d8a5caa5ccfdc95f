"""The pure core: errors and exit codes, the neutral request and events, the one
accumulator, the retry policy and the deadline. No I/O, no imports from above."""
