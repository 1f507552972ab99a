"""BookingsFunction: book and cancel seats, never more than there are."""
