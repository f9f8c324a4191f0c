"""The grid worker's app (社区通) API at /api/v1/app/: reports with GPS and photos, 零上报 check-ins."""
