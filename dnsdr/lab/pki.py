"""The lab's private CA, made on first use (dnsdr/lab/certs.py does the work).

``cryptography`` is a dependency of the lab (the ``test`` extra), not of dnsdr: this module imports
it only when a lab starts, so an installed dnsdr runs (``dnsdr --version``, every operation) without
it, and ``dnsdr lab up`` without it says what is missing in one line.
"""

from __future__ import annotations

from dnsdr.lab.errors import LabError
from dnsdr.lab.layout import Paths


def ensure(paths: Paths) -> None:
    """The CA and every region's certificate exist (made on first use; kept across restarts)."""
    try:
        from dnsdr.lab import certs
    except ImportError as exc:
        raise LabError("lab", f"the lab's private CA needs the Python package {exc.name or 'cryptography'}: "
                              "install dnsdr with its test extra (pip install 'dnsdr[test]')") from None
    certs.ensure(paths)
