"""What the assets do, free of Dagster: landed events in, rows for the tables out, with counts."""
