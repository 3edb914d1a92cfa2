"""Sessions end with "log out everywhere" too.

Django already ends a session when its user's password changes (the session keeps a hash of the
password: ``get_session_auth_hash``) or the user is deactivated (the backend refuses inactive
users). For "log out everywhere" (``accounts.services.user_logout_everywhere``), each login
writes the user's token generation into the session, and this middleware logs out a session
whose generation is no longer the user's. The generation comes with the user in the same query
(``accounts.backends``); a request without a logged-in session costs nothing.
"""

from __future__ import annotations

from django.contrib.auth import SESSION_KEY, logout

from accounts.tokens import token_generation

SESSION_GENERATION_KEY = "_token_generation"


def remember_generation_on_login(sender, request, user, **kwargs) -> None:
    """``user_logged_in``: the session remembers the generation it was opened at."""
    session = getattr(request, "session", None)
    if session is not None:
        session[SESSION_GENERATION_KEY] = token_generation(user)


class SessionGenerationMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is not None and SESSION_KEY in session:
            user = request.user
            if user.is_authenticated and session.get(SESSION_GENERATION_KEY, 0) != (
                token_generation(user)
            ):
                logout(request)
        return self.get_response(request)
