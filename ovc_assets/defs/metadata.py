"""Helpers for metadata the Dagster UI renders."""


def markdown_table(header: tuple[str, ...], rows: list[tuple[object, ...]]) -> str:
    """A markdown table for metadata the UI renders; `|` and newlines in cells are escaped."""

    def cell(value: object) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return "\n".join(lines)
