from __future__ import annotations

from typing import cast

import factory
from factory.django import DjangoModelFactory

from crm.models import Role, User


class UserFactory(DjangoModelFactory[User]):
    class Meta:
        model = User
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.LazyAttribute(lambda o: o.username)
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.com")
    role = Role.REP
    language = "en"
    password = factory.django.Password("correct-horse-battery")


def make_user(**kwargs: object) -> User:
    """A saved user (typed, unlike calling the factory class)."""
    return cast(User, UserFactory(**kwargs))
