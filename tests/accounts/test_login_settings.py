"""The lockout settings are read from the environment and checked at start-up."""

from __future__ import annotations

import pytest

from tests.test_settings import load_settings


@pytest.mark.parametrize(
    ("variables", "named", "problem"),
    [
        ({"LOGIN_FAILURE_LIMIT": "-1"}, "LOGIN_FAILURE_LIMIT", "below the minimum 0"),
        ({"LOGIN_USERNAME_FAILURE_LIMIT": "many"}, "LOGIN_USERNAME_FAILURE_LIMIT", "integer"),
        ({"LOGIN_IP_FAILURE_LIMIT": "5.5"}, "LOGIN_IP_FAILURE_LIMIT", "not an integer"),
        ({"LOGIN_LOCKOUT_SECONDS": "0"}, "LOGIN_LOCKOUT_SECONDS", "below the minimum 1"),
        (
            {"LOGIN_FAILURE_LIMIT": "10", "LOGIN_USERNAME_FAILURE_LIMIT": "10"},
            "LOGIN_USERNAME_FAILURE_LIMIT",
            "more than LOGIN_FAILURE_LIMIT",
        ),
    ],
)
def test_a_bad_lockout_setting_fails_at_start_up_naming_it(variables, named, problem):
    result = load_settings(**variables)
    assert result.returncode != 0
    assert f"Invalid environment variable {named}" in result.stderr
    assert problem in result.stderr


def test_the_username_count_may_be_off_whatever_the_pair_limit():
    result = load_settings(LOGIN_FAILURE_LIMIT="10", LOGIN_USERNAME_FAILURE_LIMIT="0")
    assert result.returncode == 0, result.stderr
