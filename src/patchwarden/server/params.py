"""Bounds of the numbers in URLs: every id and page fits the databases' 64-bit integers.

An id past 2^63-1 or a page whose offset would pass it is refused (422, naming the
parameter) before it reaches a query: SQLite raises OverflowError on such a number.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path, Query
from pydantic import Field

from patchwarden.protocol import v1
from patchwarden.services.views import MAX_PER_PAGE

MAX_PAGE = v1.MAX_ID // MAX_PER_PAGE
"""Largest page number: (page - 1) * per_page stays an int64 for every allowed per_page."""

RowId = Annotated[int, Field(ge=1, le=v1.MAX_ID)]
"""A record, job or inventory id (in a body)."""
PathId = Annotated[int, Path(ge=1, le=v1.MAX_ID)]
"""A record, job or inventory id in the path."""
Page = Annotated[int, Query(le=MAX_PAGE, description="1-based page number")]
"""A page number (its lower bound is the service's: `views.check_page`)."""
