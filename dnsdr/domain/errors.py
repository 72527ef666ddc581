"""One error root for dnsdr, with the two kinds every front end maps in one place.

- :class:`RetryLater`: the world was not as needed *now* (a server unreachable, a timeout, a step
  whose effect could not be proven). Running the same thing again later may succeed; an operation
  resumes where it stopped.
- :class:`NeedsOperator`: retrying cannot help until a person acts (invalid input, a safety gate
  refused, a plan that makes no sense for the spec, a rejected credential).

The CLI maps them to exit codes, the operator to kopf's ``TemporaryError``/``PermanentError``, the
controller to back-off or an alert. Messages never carry a secret.
"""

from __future__ import annotations


class DnsdrError(Exception):
    """Root of every error dnsdr raises on purpose."""


class RetryLater(DnsdrError):
    """Transient: unreachable, timed out, a step failed part-way; the same command may succeed later."""


class NeedsOperator(DnsdrError):
    """Permanent until a person acts: invalid input, refused by a safety gate, a plan error."""


class InvalidInput(NeedsOperator, ValueError):
    """The spec, a file or an option is wrong; nothing was changed."""


class RefusedError(NeedsOperator):
    """A safety gate refused; nothing (more) was changed. Front ends give it its own exit code."""


class IncompleteError(RetryLater):
    """An operation stopped part-way; running the same command again resumes it."""
