"""Step handlers, one module per system they act on: databases, Designate, the DNS data plane."""
