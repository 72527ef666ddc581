"""``python -m dnsdr``: the same command line as the ``dnsdr`` script."""

from dnsdr.cli.main import main

main()
