"""Open311 GeoReport v2 at /open311/v2/: civic apps and Open311 clients, unchanged."""
