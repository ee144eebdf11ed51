"""``config.errors.conflict_on_duplicate``: a unique violation is the given 409, in a
savepoint the caller's transaction survives; any other integrity error is not a conflict."""

from __future__ import annotations

import uuid
from datetime import timedelta

import psycopg
import pytest
from django.db import IntegrityError, connection
from django.utils import timezone

from accounts.models import Session, User
from config.errors import Conflict, conflict_on_duplicate

pytestmark = pytest.mark.django_db


def _email_taken() -> Conflict:
    return Conflict("An account with this email exists.", code="email_taken")


def test_a_unique_violation_becomes_the_given_conflict_and_the_transaction_goes_on(personas):
    error = _email_taken()
    with pytest.raises(Conflict) as raised, conflict_on_duplicate(error):
        User.objects.create_user(email="OWNER@acme.test", password="x")  # case-insensitive
    assert raised.value is error
    assert isinstance(raised.value.__cause__, IntegrityError)
    assert isinstance(raised.value.__cause__.__cause__, psycopg.errors.UniqueViolation)
    # Only the savepoint was rolled back: the enclosing transaction still reads and writes.
    User.objects.create_user(email="new@acme.test", password="x")
    assert User.objects.filter(email__in=["owner@acme.test", "new@acme.test"]).count() == 2


def test_a_block_without_violation_keeps_its_writes(db):
    with conflict_on_duplicate(_email_taken()):
        User.objects.create_user(email="first@example.test", password="x")
    assert User.objects.filter(email="first@example.test").exists()


def test_a_not_null_violation_is_not_a_conflict(db):
    with pytest.raises(IntegrityError) as raised, conflict_on_duplicate(_email_taken()):
        User.objects.create(email=None, password="x")
    assert isinstance(raised.value.__cause__, psycopg.errors.NotNullViolation)


def test_a_foreign_key_violation_is_not_a_conflict(db):
    with pytest.raises(IntegrityError) as raised, conflict_on_duplicate(_email_taken()):
        with connection.cursor() as cursor:  # Django's foreign keys are deferred
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        Session.objects.create(user_id=uuid.uuid4(), expires_at=timezone.now() + timedelta(days=1))
    assert isinstance(raised.value.__cause__, psycopg.errors.ForeignKeyViolation)
