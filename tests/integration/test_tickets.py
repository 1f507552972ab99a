"""Tickets at the door: a confirmed booking's signed code and QR image, checked
offline with the public keys alone, and admitted once however many scanners
read it at once."""

import base64
import io
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from pydantic import SecretStr

from tests.factories import (
    DEFAULT_PASSWORD,
    auth_header,
    book,
    create_event,
    login,
    unique_email,
    user_token,
)
from ticketmania.settings import get_settings
from ticketmania.tickets import get_key_ring


def unb64(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def staff(client):
    """A member of the door staff, as `ticketmania create-admin --role staff` makes one."""
    from ticketmania.admins import create_or_promote_admin
    from ticketmania.db.engine import open_session

    email = unique_email("staff")
    with open_session() as session:
        create_or_promote_admin(
            session,
            email=email,
            password=DEFAULT_PASSWORD,
            name="Door",
            reset_password=False,
            role="staff",
        )
    return login(client, email)


@pytest.fixture
def booked(client, admin):
    event = create_event(client, admin, total_seats=50)
    user, token = user_token(client)
    booking = book(client, token, event["id"], 3).json()
    return {"event": event, "user": user, "token": token, "booking": booking}


def ticket_of(client, booked):
    response = client.get(
        f"/bookings/{booked['booking']['id']}/ticket",
        headers=auth_header(booked["token"]),
    )
    assert response.status_code == 200, response.text
    return response.json()


def check_in(http, staff, code, event_id=None):
    body = {"code": code}
    if event_id is not None:
        body["event_id"] = event_id
    return http.post("/checkins", json=body, headers=auth_header(staff))


@pytest.fixture
def key_ring_of(monkeypatch):
    """Run with these ticket keys (the first signs)."""

    def use(keys):
        monkeypatch.setattr(get_settings(), "ticket_signing_keys", SecretStr(keys))
        get_key_ring.cache_clear()

    yield use
    get_key_ring.cache_clear()


def test_a_ticket_is_the_bookings_with_a_short_signed_code(client, booked):
    ticket = ticket_of(client, booked)
    assert {
        key: ticket[key] for key in ("booking_id", "event_id", "seats", "holder")
    } == {
        "booking_id": booked["booking"]["id"],
        "event_id": booked["event"]["id"],
        "seats": 3,
        "holder": booked["user"]["name"],
    }
    assert len(ticket["code"]) <= 200
    assert ticket["qr_svg"].startswith("<svg")


def test_a_code_verifies_offline_with_the_public_keys_alone(client, booked):
    """As a door device would: the JWK Set, the documented layout, and a plain
    Ed25519 implementation (cryptography's), none of the project's code."""
    code = ticket_of(client, booked)["code"]
    keys = client.get("/tickets/keys")
    assert "max-age" in keys.headers["Cache-Control"]
    (jwk,) = keys.json()["keys"]
    assert (jwk["kty"], jwk["crv"]) == ("OKP", "Ed25519")
    assert set(jwk) <= {"kty", "crv", "kid", "x", "use", "alg"}  # nothing private
    raw = unb64(code)
    # Format 2, one line: 27 bytes, the line count, one line of 10, the signature.
    assert len(raw) == 27 + 1 + 10 + 64 and len(code) == 136
    payload, signature = raw[:38], raw[38:]
    assert payload[0] == 2 and payload[1:5].hex() == jwk["kid"]
    public = Ed25519PublicKey.from_public_bytes(unb64(jwk["x"]))
    public.verify(signature, payload)  # raises if it does not verify
    assert int.from_bytes(payload[5:13], "big") == booked["booking"]["id"]
    assert int.from_bytes(payload[13:21], "big") == booked["event"]["id"]
    assert int.from_bytes(payload[21:23], "big") == 3
    (default,) = client.get(f"/events/{booked['event']['id']}/ticket-types").json()
    assert payload[27] == 1
    assert int.from_bytes(payload[28:36], "big") == default["id"]
    assert int.from_bytes(payload[36:38], "big") == 3
    issued = datetime.fromtimestamp(int.from_bytes(payload[23:27], "big"), UTC)
    assert abs((datetime.now(UTC) - issued).total_seconds()) < 60
    with pytest.raises(InvalidSignature):
        public.verify(signature, payload[:-1] + bytes([payload[-1] ^ 1]))


def test_the_qr_image_reads_back_as_the_code(client, booked):
    import zxingcpp
    from PIL import Image

    code = ticket_of(client, booked)["code"]
    png = client.get(
        f"/bookings/{booked['booking']['id']}/ticket.png",
        headers=auth_header(booked["token"]),
    )
    assert png.headers["content-type"] == "image/png"
    (found,) = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.content)))
    assert found.format == zxingcpp.BarcodeFormat.QRCode
    # A fresh code each time it is asked for (its issue time); same booking, seats.
    assert unb64(found.text)[5:23] == unb64(code)[5:23]


@pytest.mark.parametrize("how", ["forged", "truncated", "re-signed", "garbage"])
def test_a_code_we_did_not_sign_is_invalid_ticket(client, booked, staff, how):
    raw = bytearray(unb64(ticket_of(client, booked)["code"]))
    if how == "forged":
        raw[21:23] = (10).to_bytes(2, "big")  # ten seats instead of three
        code = b64(bytes(raw))
    elif how == "truncated":
        code = b64(bytes(raw))[:-10]
    elif how == "re-signed":
        stranger = Ed25519PrivateKey.generate()
        code = b64(bytes(raw[:38]) + stranger.sign(bytes(raw[:38])))
    else:
        code = "not a ticket at all!"
    refused = check_in(client, staff, code)
    assert (refused.status_code, refused.json()["code"]) == (422, "invalid_ticket")


def test_rotation_admits_old_codes_while_the_old_key_is_listed(
    client, booked, staff, key_ring_of
):
    old = get_settings().ticket_signing_keys.get_secret_value()
    old_code = ticket_of(client, booked)["code"]
    new = b64(Ed25519PrivateKey.generate().private_bytes_raw())
    key_ring_of(f"{new},{old}")
    assert len(client.get("/tickets/keys").json()["keys"]) == 2
    new_code = ticket_of(client, booked)["code"]
    assert unb64(new_code)[1:5] != unb64(old_code)[1:5]  # signed by the new key
    assert check_in(client, staff, old_code).status_code == 200
    key_ring_of(new)
    gone = check_in(client, staff, old_code)
    assert (gone.status_code, gone.json()["code"]) == (422, "invalid_ticket")


def test_twenty_scanners_at_once_admit_a_ticket_once(
    client, booked, staff, live_server
):
    code = ticket_of(client, booked)["code"]
    barrier = threading.Barrier(20, timeout=60)

    def scan(_):
        with httpx.Client(base_url=live_server, timeout=30) as http:
            http.get("/health")
            barrier.wait()
            response = check_in(http, staff, code)
            return response.status_code, response.json()

    with ThreadPoolExecutor(20) as pool:
        answers = list(pool.map(scan, range(20)))
    admitted = [body for status, body in answers if status == 200]
    repeated = [body for status, body in answers if status == 409]
    assert len(admitted) == 1 and len(repeated) == 19, answers
    assert {body["code"] for body in repeated} == {"already_checked_in"}
    first = admitted[0]["checked_in_at"]
    assert {body["checked_in_at"] for body in repeated} == {first}
    counts = client.get(
        f"/events/{booked['event']['id']}/checkins", headers=auth_header(staff)
    ).json()
    (default,) = client.get(f"/events/{booked['event']['id']}/ticket-types").json()
    assert counts == {
        "confirmed_seats": 3,
        "checked_in_seats": 3,
        "bookings_checked_in": 1,
        "by_type": [
            {
                "ticket_type_id": default["id"],
                "name": "Admission",
                "confirmed_seats": 3,
                "checked_in_seats": 3,
            }
        ],
    }


def test_a_cancelled_bookings_code_is_refused_from_that_moment(client, booked, staff):
    code = ticket_of(client, booked)["code"]
    client.post(
        f"/bookings/{booked['booking']['id']}/cancel",
        headers=auth_header(booked["token"]),
    )
    refused = check_in(client, staff, code)
    assert (refused.status_code, refused.json()["code"]) == (409, "booking_cancelled")


def test_the_wrong_event_and_a_cancelled_one(client, admin, booked, staff):
    code = ticket_of(client, booked)["code"]
    other = create_event(client, admin)
    wrong = check_in(client, staff, code, event_id=other["id"])
    assert (wrong.status_code, wrong.json()["code"]) == (409, "wrong_event")
    client.delete(f"/events/{booked['event']['id']}", headers=auth_header(admin))
    gone = check_in(client, staff, code)
    assert gone.status_code == 404


def test_only_a_confirmed_booking_has_a_ticket(client, admin, booked):
    event = booked["event"]
    _, token = user_token(client)
    held = client.post(
        "/bookings",
        json={"event_id": event["id"], "seats_booked": 1, "hold": True},
        headers=auth_header(token),
    ).json()
    refused = client.get(f"/bookings/{held['id']}/ticket", headers=auth_header(token))
    assert (refused.status_code, refused.json()["code"]) == (409, "not_confirmed")
    _, stranger = user_token(client)
    hidden = client.get(
        f"/bookings/{booked['booking']['id']}/ticket", headers=auth_header(stranger)
    )
    assert hidden.status_code == 404
    by_admin = client.get(
        f"/bookings/{booked['booking']['id']}/ticket", headers=auth_header(admin)
    )
    assert by_admin.status_code == 200


def test_staff_checks_in_and_is_refused_everything_admin(client, booked, staff):
    from localdev.template import read_functions
    from tests.conftest import ROOT

    admin_only = [
        (
            "POST",
            "/events",
            {
                "title": "T",
                "location": "L",
                "event_date": "2031-01-01T00:00:00Z",
                "total_seats": 5,
            },
        ),
        ("PATCH", "/events/{id}", {"title": "T"}),
        ("DELETE", "/events/{id}", None),
        ("GET", "/events/{id}/bookings", None),
        ("GET", "/events/{id}/waitlist", None),
    ]
    declared = {
        (route.method, route.path)
        for spec in read_functions(ROOT / "template.yaml")
        for route in spec.routes
    }
    assert {(method, path) for method, path, _ in admin_only} <= declared
    for method, path, body in admin_only:
        url = path.replace("{id}", str(booked["event"]["id"]))
        answer = client.request(method, url, json=body, headers=auth_header(staff))
        assert (answer.status_code, answer.json()["code"]) == (403, "forbidden"), path
    code = ticket_of(client, booked)["code"]
    assert check_in(client, staff, code).status_code == 200
    user_scan = check_in(client, booked["token"], code)
    assert user_scan.status_code == 403


def test_the_confirmation_email_carries_the_code_and_its_qr_image(client, booked):
    from email import message_from_bytes, policy

    import zxingcpp
    from PIL import Image

    from ticketmania.jobs import run_job

    run_job("relay-outbox")
    (path,) = (get_settings().ticketmania_data_dir / "mail").glob("*.eml")
    message = message_from_bytes(path.read_bytes(), policy=policy.default)
    body = message.get_body(preferencelist=("plain",)).get_content()
    (attachment,) = [part for part in message.iter_attachments()]
    assert attachment.get_content_type() == "image/png"
    image = Image.open(io.BytesIO(attachment.get_payload(decode=True)))
    (found,) = zxingcpp.read_barcodes(image)
    assert found.text in body
    staff_email = unique_email("door")
    from ticketmania.admins import create_or_promote_admin
    from ticketmania.db.engine import open_session

    with open_session() as session:
        create_or_promote_admin(
            session,
            email=staff_email,
            password=DEFAULT_PASSWORD,
            name="D",
            reset_password=False,
            role="staff",
        )
    admitted = check_in(client, login(client, staff_email), found.text)
    assert admitted.status_code == 200


def test_a_code_of_format_1_still_checks_in(client, booked, staff, key_ring_of):
    """Codes signed before ticket types (no lines) stay good at the door."""
    import struct

    from ticketmania import tickets

    ring = tickets.get_key_ring()
    payload = struct.pack(
        ">B4sQQHI",
        1,
        ring.signing_kid,
        booked["booking"]["id"],
        booked["event"]["id"],
        3,
        int(datetime.now(UTC).timestamp()),
    )
    code = b64(payload + ring.signing.sign(payload))
    admitted = check_in(client, staff, code)
    assert admitted.status_code == 200, admitted.text


def test_an_orders_ticket_names_its_types_and_the_door_counts_them(
    client, admin, staff
):
    from tests.factories import create_event, create_ticket_type, order, user_token

    event = create_event(client, admin, total_seats=20)
    # Free types: the order is paid at once, so it has its ticket.
    vip = create_ticket_type(client, admin, event["id"], name="VIP", price_minor=0)
    std = create_ticket_type(client, admin, event["id"], name="Std", price_minor=0)
    _, token = user_token(client)
    placed = order(client, token, event["id"], [(vip["id"], 1), (std["id"], 2)]).json()
    ticket = client.get(f"/bookings/{placed['id']}/ticket", headers=auth_header(token))
    body = ticket.json()
    assert sorted(
        (line["ticket_type_id"], line["quantity"]) for line in body["lines"]
    ) == [
        (vip["id"], 1),
        (std["id"], 2),
    ]
    assert len(unb64(body["code"])) == 27 + 1 + 20 + 64
    assert check_in(client, staff, body["code"]).status_code == 200
    counts = client.get(
        f"/events/{event['id']}/checkins", headers=auth_header(staff)
    ).json()
    by_name = {row["name"]: row for row in counts["by_type"]}
    assert (
        by_name["VIP"]["checked_in_seats"] == 1
        and by_name["Std"]["checked_in_seats"] == 2
    )
    assert by_name["Admission"]["confirmed_seats"] == 0
