"""Random histories of book / cancel / resize / delete keep the seat books balanced."""

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from tests import factories
from tests.factories import auth_header, create_event, make_admin, user_token

USERS = 3


def seat_books(event_id):
    books = factories.seat_books(event_id)
    return books.total, books.available, books.is_cancelled, books.confirmed


def test_random_histories_keep_available_equal_to_total_minus_confirmed(client):
    admin = make_admin(client)[1]
    tokens = [user_token(client)[1] for _ in range(USERS)]

    class SeatBooks(RuleBasedStateMachine):
        bookings = Bundle("bookings")

        @initialize(total=st.integers(min_value=1, max_value=30))
        def open_event(self, total):
            self.event_id = create_event(client, admin, total_seats=total)["id"]

        @rule(target=bookings, user=st.integers(0, USERS - 1), seats=st.integers(1, 12))
        def book(self, user, seats):
            response = client.post(
                "/bookings",
                json={"event_id": self.event_id, "seats_booked": seats},
                headers=auth_header(tokens[user]),
            )
            assert response.status_code in (201, 409, 422), response.text
            if response.status_code == 409:
                assert response.json()["code"] in {
                    "sold_out",
                    "limit_exceeded",
                    "event_closed",
                }
            return (user, response.json().get("id"))

        @rule(booking=bookings, as_admin=st.booleans())
        def cancel(self, booking, as_admin):
            user, booking_id = booking
            if booking_id is None:
                return
            token = admin if as_admin else tokens[user]
            response = client.post(
                f"/bookings/{booking_id}/cancel", headers=auth_header(token)
            )
            assert response.status_code in (200, 409), response.text
            if response.status_code == 409:
                assert response.json()["code"] == "already_cancelled"

        @rule(total=st.integers(min_value=1, max_value=40))
        def resize(self, total):
            response = client.patch(
                f"/events/{self.event_id}",
                json={"total_seats": total},
                headers=auth_header(admin),
            )
            assert response.status_code in (200, 404, 409), response.text
            if response.status_code == 409:
                assert response.json()["code"] == "seats_below_booked"

        @rule()
        def delete(self):
            response = client.delete(
                f"/events/{self.event_id}", headers=auth_header(admin)
            )
            assert response.status_code in (204, 404)

        @invariant()
        def books_balance(self):
            if not hasattr(self, "event_id"):
                return
            total, available, is_cancelled, confirmed = seat_books(self.event_id)
            assert available == total - confirmed
            assert 0 <= available <= total
            if is_cancelled:
                assert confirmed == 0

    run_state_machine_as_test(
        SeatBooks,
        settings=settings(
            max_examples=25,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
