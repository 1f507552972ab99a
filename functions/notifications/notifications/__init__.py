"""NotificationsFunction: the booking e-mails, from the notifications queue."""
