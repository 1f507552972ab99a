"""NotificationsFunction's handler fed the SQS sample of events/: the sample's
message is the first booking's confirmation (ids start at 1 in each test)."""

from tests.factories import book, create_event, make_admin, user_token
from tests.lambda_events import LambdaContext, load_event
from ticketmania.settings import get_settings


def test_the_sqs_sample_sends_the_first_bookings_email(client):
    from notifications.consumer import handler

    admin = make_admin(client)[1]
    # make_admin made user 1; the sample's booking 1 belongs to user 1 too.
    event = create_event(client, admin)
    assert book(client, admin, event["id"], 2).json()["id"] == 1
    user_token(client)
    answer = handler(load_event("sqs_notifications"), LambdaContext())
    assert answer == {"batchItemFailures": []}
    mail = get_settings().ticketmania_data_dir / "mail"
    assert [path.name for path in mail.glob("*.eml")] == ["1-1.eml"]
    handler(load_event("sqs_notifications"), LambdaContext())
    assert len(list(mail.glob("*.eml"))) == 1
