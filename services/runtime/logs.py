"""Log setup shared by every process. Logs are English and never carry residents' personal data;
secrets that reach a log line anyway (a URL with a token, a bearer header) are redacted on output."""

from __future__ import annotations

import logging
import sys

from services.privacy.redaction import RedactingFormatter

# Loggers that say too much at INFO. httpx logs every request with its whole URL (query tokens
# included) and httpcore every connection step; aiokafka reports every reconnect at ERROR anyway.
QUIET = ("httpx", "httpcore", "aiokafka")


def configure_logging(service: str, level: str = "INFO") -> None:
    """Log to stderr with the service's name; every handler of the process redacts secrets."""
    _configure(level, f"%(asctime)s %(levelname)s {service} %(name)s: %(message)s")


def configure_launcher_logging(level: str = "INFO") -> None:
    """The same for the launcher (`gridcase up`), whose lines carry no service name."""
    _configure(level, "%(asctime)s %(levelname)s %(name)s: %(message)s")


def _configure(level: str, fmt: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(RedactingFormatter(fmt))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    for name in QUIET:
        logging.getLogger(name).setLevel(logging.WARNING)
    install_redaction()


def install_redaction() -> None:
    """Make every handler attached so far redact what it writes (uvicorn's own handlers included:
    they don't propagate to the root). The handler's own formatting is kept and redacted after."""
    loggers = [logging.getLogger()] + [
        lg for lg in logging.Logger.manager.loggerDict.values() if isinstance(lg, logging.Logger)
    ]
    for logger in loggers:
        for handler in logger.handlers:
            if not isinstance(handler.formatter, RedactingFormatter):
                handler.setFormatter(RedactingFormatter(inner=handler.formatter or logging.Formatter()))
