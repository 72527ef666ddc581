"""The use cases every front end calls (CLI, controller, monitor, operator), returning typed results.

Front ends parse their input and format what these return; nothing here prints or knows click,
kopf or HTTP.
"""
