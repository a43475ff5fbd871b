"""An FxCalendar names its closures in date order and its default-closure switch."""

from datetime import date

from ovc_assets.calendar import FxCalendar

# Six dates: a set's iteration order (which depends on the hash seed) is this order once in 720.
CLOSURES = [date(2026, month, 3) for month in (9, 4, 11, 7, 2, 5)]


def test_the_repr_lists_the_closures_sorted() -> None:
    listed = ", ".join(f"datetime.date(2026, {month}, 3)" for month in (2, 4, 5, 7, 9, 11))
    assert repr(FxCalendar(CLOSURES, default_closures=False)) == (
        f"FxCalendar(closures=[{listed}], default_closures=False)"
    )
    assert repr(FxCalendar()) == "FxCalendar(closures=[], default_closures=True)"
