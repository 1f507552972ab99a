"""AuthFunction: signup, login, the current user and password changes."""
