"""EventsFunction: the public listing and reads, and admin create, update and cancel."""
