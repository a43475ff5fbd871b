"""The `ovc` command line."""
