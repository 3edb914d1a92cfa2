from django.conf import settings
from django.db import models


class ApiKey(models.Model):
    """A machine credential for the catalog-compatible endpoints (``Authorization: Api-Key``).

    Only a hash of the secret is stored; the full key is shown once, when it is created.
    The key reads ``<prefix>.<secret>``; the prefix finds the row, the secret is checked against
    the hash.
    """

    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    hashed_secret = models.CharField(max_length=128, editable=False)
    is_active = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        verbose_name = "API key"
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class TokenGeneration(models.Model):
    """A user's token generation: "log out everywhere" adds one to it, which ends every JWT and
    session issued before (they carry a stamp made from the password hash and this number:
    ``accounts.tokens``). A user without a row is at generation 0."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="token_generation",
    )
    value = models.PositiveBigIntegerField(default=0)
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "token generation"

    def __str__(self) -> str:
        return f"{self.user_id}: generation {self.value}"
