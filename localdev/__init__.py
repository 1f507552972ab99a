"""Local development: the `ticketmania` command and a server for every function at once.

Lives outside the layer on purpose: nothing deployed imports it.
"""
