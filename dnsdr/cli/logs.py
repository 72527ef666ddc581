"""stdlib logging for the command line: ``-v`` info, ``--debug`` debug, ``--log-format json``.

JSON lines carry ``run_id``, ``step`` and ``region`` when the record has them. Every line is scrubbed
of secret values resolved in this process before it is written.
"""

from __future__ import annotations

import json
import logging
import sys
import time

from dnsdr.adapters.secrets import resolved_values

CONTEXT_FIELDS = ("run_id", "step", "region", "operation")


def scrub(text: str) -> str:
    for value in resolved_values():
        text = text.replace(value, "<secret>")
    return text


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        stamp = time.strftime("%H:%M:%S", time.localtime(record.created))
        context = " ".join(f"{k}={getattr(record, k)}" for k in CONTEXT_FIELDS if hasattr(record, k))
        line = f"{stamp} {record.levelname.lower():7} {record.name}: {record.getMessage()}"
        if context:
            line += f" [{context}]"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return scrub(line)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage(),
        }
        doc.update({k: getattr(record, k) for k in CONTEXT_FIELDS if hasattr(record, k)})
        if record.exc_info:
            doc["exception"] = self.formatException(record.exc_info)
        return scrub(json.dumps(doc, default=str))


def configure(verbose: int, debug: bool, fmt: str) -> None:
    level = logging.DEBUG if debug else logging.INFO if verbose else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    root = logging.getLogger("dnsdr")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def include(name: str) -> None:
    """Send another library's logger (kopf's, in the operator) through dnsdr's handler, format and level."""
    ours = logging.getLogger("dnsdr")
    theirs = logging.getLogger(name)
    theirs.handlers[:] = list(ours.handlers)
    theirs.setLevel(ours.level)
    theirs.propagate = False
