"""TicketsFunction: tickets at the door: signed codes and their QR images, the
public keys that check them offline, and check-in, once per booking."""
