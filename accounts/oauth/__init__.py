"""OAuth2 for API consumers (django-oauth-toolkit, at ``/o/``): applications registered to a
user, whose role bounds them, with scopes that narrow that role (docs/oauth.md).

- :mod:`.scopes`: the scopes and what each endpoint needs (``oauth_scopes`` on the views);
- :mod:`.server`: the grants allowed (authorization code with PKCE, client credentials,
  refresh tokens) and the token's user;
- :mod:`.authentication`: the DRF authentication (scope check, per-request log context);
- :mod:`.services`: rotate an application's secret, revoke its tokens;
- :mod:`.views`: ``/o/`` (the consent page behind our login page, a throttled token endpoint);
- :mod:`.admin`: the applications in the admin; :mod:`.schema`: the OpenAPI security scheme.
"""
