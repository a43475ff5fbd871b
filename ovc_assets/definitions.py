"""The Dagster code location `ovc_assets.definitions:defs`: assembles the domains, nothing more."""

from __future__ import annotations

import dagster as dg

from ovc_assets.defs.resources import PostgresResource
from ovc_assets.defs.storage.assets import ovc_database_schema

defs = dg.Definitions(
    assets=[ovc_database_schema],
    resources={"ovc_database": PostgresResource()},
)
