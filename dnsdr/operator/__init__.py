"""The Kubernetes operator (``dnsdr operator``): kopf handlers for DesignateDR resources, run in the monitor region.

Split as mysql-operator splits an area, with kopf only in ``handlers.py``: ``crd.py``/``crd_status.py`` (the CRD,
generated from the spec model), ``resource.py`` (the typed resource: spec, annotations), ``objects.py`` (pure builders
of Secrets and status), ``actions.py`` (what a round does, through the application core) and ``main.py`` (startup).
"""
