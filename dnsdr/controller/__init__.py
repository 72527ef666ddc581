"""``dnsdr run``: the standalone controller, observe -> decide -> act every probe interval."""
