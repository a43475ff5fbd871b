"""The database schema as an asset: everything else is written into it."""
