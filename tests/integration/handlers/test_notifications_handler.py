"""NotificationsFunction's handler fed the SQS sample of events/: the sample's
message is the first booking's confirmation (ids start at 1 in each test)."""

from tests.factories import book, create_event, make_admin, user_token
from tests.lambda_events import LambdaContext, load_event
from ticketmania.settings import get_settings

# Run with this function's template environment (handlers/conftest.py).
FUNCTION = "NotificationsFunction"


def test_the_sqs_sample_sends_the_first_bookings_email_through_ses(client, aws):
    """As deployed: MAIL_BACKEND=ses (moto's), once however often it arrives."""
    import boto3

    from notifications.consumer import handler

    ses = boto3.client("ses")
    ses.verify_email_identity(EmailAddress="tickets@ticketmania.example")
    admin = make_admin(client)[1]
    # make_admin made user 1; the sample's booking 1 belongs to user 1 too.
    event = create_event(client, admin)
    assert book(client, admin, event["id"], 2).json()["id"] == 1
    user_token(client)
    assert get_settings().mail_backend == "ses"
    answer = handler(load_event("sqs_notifications"), LambdaContext())
    assert answer == {"batchItemFailures": []}
    handler(load_event("sqs_notifications"), LambdaContext())
    assert ses.get_send_quota()["SentLast24Hours"] == 1
