"""reviewer: reviews outpatient PT/OT daily notes before they are billed."""

__version__ = "0.1.0"
