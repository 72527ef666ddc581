"""The third-region witness (``dnsdr monitor``): probes, per-region verdicts, HTTP and metrics."""
