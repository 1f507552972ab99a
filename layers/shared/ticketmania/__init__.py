"""TicketMania's shared layer: settings, database, cache, security and HTTP plumbing.

Every function imports from here; nothing here imports a function.
"""
