"""Service-control drivers beyond the ``command`` one (``dnsdr.adapters.service_control``): Kubernetes Deployments."""
