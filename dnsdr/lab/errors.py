"""The one error the lab raises: it names the component and carries its log tail."""

from __future__ import annotations

from dnsdr.domain.errors import DnsdrError


class LabError(DnsdrError):
    def __init__(self, component: str, message: str, log_tail: str = "") -> None:
        self.component = component
        self.message = message
        self.log_tail = log_tail
        text = f"{component}: {message}"
        if log_tail:
            indented = "\n".join("    " + line for line in log_tail.splitlines())
            text += f"\n  log tail:\n{indented}"
        super().__init__(text)
