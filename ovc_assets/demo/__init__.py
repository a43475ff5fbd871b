"""The deterministic sample data `ovc demo` runs the pipeline on."""
