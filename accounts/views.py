"""The authentication endpoints: tokens (login throttled and locked out) and "log out
everywhere"."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, permissions, status
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.views import TokenObtainPairView

from accounts.lockout import locked_for, lockout_message
from accounts.services import user_logout_everywhere
from core.api.throttling import AnonRateThrottle, ScopedRateThrottle


class LoginThrottledTokenObtainPairView(TokenObtainPairView):
    """``POST /api/auth/token/``, limited per client IP by the ``login`` rate
    (THROTTLE_LOGIN_RATE), and sharing the lockout of every login form (``accounts.lockout``):
    a locked-out username or client gets 429 with Retry-After."""

    throttle_classes = [AnonRateThrottle, ScopedRateThrottle]
    throttle_scope = "login"

    def post(self, request, *args, **kwargs):
        try:
            return super().post(request, *args, **kwargs)
        except exceptions.AuthenticationFailed:
            seconds = locked_for(request)
            if seconds:
                raise exceptions.Throttled(wait=seconds, detail=lockout_message(seconds)) from None
            raise


class LogoutEverywhereView(APIView):
    """``POST /api/auth/logout-all/``: ends every access and refresh token and every session of
    the calling user issued before now (including the token used for this call)."""

    permission_classes = [permissions.IsAuthenticated]
    oauth_scopes: dict = {}  # a person's own act: closed to OAuth2 applications

    @extend_schema(request=None, responses={204: None})
    def post(self, request):
        user_logout_everywhere(user_id=request.user.pk)
        return Response(status=status.HTTP_204_NO_CONTENT)
