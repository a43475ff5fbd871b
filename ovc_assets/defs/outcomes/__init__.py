"""Outcomes domain: forward excursions per block (`ovc_outcomes`), its checks, job and sensor."""
