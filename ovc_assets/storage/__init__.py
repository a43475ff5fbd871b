"""Storage: PostgreSQL (server or embedded), migrations and the raw store."""
