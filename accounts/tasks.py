"""Celery tasks of the accounts app: thin, safe to run twice."""

from celery import shared_task
from oauth2_provider.models import clear_expired


@shared_task(name="accounts.clear_expired_oauth_tokens")
def clear_expired_oauth_tokens_task() -> None:
    """Beat: delete expired OAuth2 access tokens, refresh tokens past OAUTH2_REFRESH_TOKEN_DAYS
    (revoked ones are kept until then: a reused rotated token must still be recognised) and
    expired authorization codes, in batches (django-oauth-toolkit's ``cleartokens``)."""
    clear_expired()
