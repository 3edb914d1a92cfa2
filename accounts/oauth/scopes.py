"""The OAuth2 scopes, and which one each endpoint needs.

Scopes narrow the role of the token's user, never widen it: the role permissions apply on top.
Each view declares, next to its permission classes, what an OAuth2 token needs::

    oauth_scopes = {"safe": "read", "unsafe": "write", "bulk": "import"}

- a key naming the view's action (``bulk``, ``cancel``...) wins;
- otherwise ``safe`` covers GET, HEAD and OPTIONS; ``unsafe`` the other methods of the
  standard actions (create, update, partial_update, destroy) and of plain API views;
- a value is a scope or a tuple of scopes of which any one will do.

An unsafe extra action not named, or a view without ``oauth_scopes``, is not open to OAuth2
tokens at all (403): a new endpoint is closed to applications until it says which scope it
needs (tests/api/test_oauth_scopes.py walks every endpoint).
"""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS

READ = "read"
WRITE = "write"
IMPORT = "import"
ANALYTICS = "analytics"
# Their descriptions (the consent page, the OpenAPI schema): OAUTH2_PROVIDER["SCOPES"].

STANDARD_ACTIONS = frozenset({"create", "update", "partial_update", "destroy"})


def required_scopes(view, method: str) -> tuple[str, ...] | None:
    """The scopes of which a token needs one for ``method`` on ``view`` (an instance, its
    ``action`` set), or None when the endpoint is not open to OAuth2 tokens."""
    declared = getattr(view, "oauth_scopes", None)
    if declared is None:
        return None
    action = getattr(view, "action", None)
    if action is not None and action in declared:
        needed = declared[action]
    elif method.upper() in SAFE_METHODS:
        needed = declared.get("safe")
    elif action is None or action in STANDARD_ACTIONS:
        needed = declared.get("unsafe")
    else:
        needed = None  # an unsafe extra action that does not say what it needs
    if not needed:
        return None
    return (needed,) if isinstance(needed, str) else tuple(needed)
