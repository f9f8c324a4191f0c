"""Log setup shared by every process. Logs are English and never carry residents' personal data."""

from __future__ import annotations

import logging
import sys


def configure_logging(service: str, level: str = "INFO") -> None:
    logging.basicConfig(
        level=level.upper(),
        stream=sys.stderr,
        format=f"%(asctime)s %(levelname)s {service} %(name)s: %(message)s",
        force=True,
    )
    # aiokafka reports every reconnect at ERROR; useful, but not every heartbeat detail.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
