"""HTTP, and the only place httpx is imported: one attempt of a request over one
connection pool, its timeouts capped by the run's deadline."""
