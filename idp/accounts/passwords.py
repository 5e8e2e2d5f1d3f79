"""Password hashing with argon2id (argon2-cffi).

Parameters come from settings (``[passwords]``), tuned so one verification costs about 50 ms on
one core of the reference machine; ``docs/configuration.md`` has the measurements. A hash made
with older parameters is re-hashed at the next successful sign-in.
"""

from __future__ import annotations

from argon2 import PasswordHasher as _Argon2
from argon2 import Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from idp.errors import ValidationError

MAX_LENGTH = 128
_COMMON = frozenset({"password", "12345678", "123456789", "1234567890", "qwertyui",
                     "11111111", "88888888", "00000000", "abcd1234", "a1234567",
                     "password1", "iloveyou", "woaini1314", "qwerty123", "1qaz2wsx"})


class PasswordHasher:
    def __init__(self, *, time_cost: int, memory_cost: int, parallelism: int,
                 min_length: int = 8) -> None:
        self._hasher = _Argon2(time_cost=time_cost, memory_cost=memory_cost,
                               parallelism=parallelism, type=Type.ID)
        self.min_length = min_length
        # A real hash of a random value: verified against when the account does not exist, so
        # the response time does not reveal which usernames are registered.
        self._dummy = self._hasher.hash("dummy-password-for-timing")

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        if stored_hash is None:
            try:
                self._hasher.verify(self._dummy, password)
            except VerificationError:
                pass
            return False
        try:
            return bool(self._hasher.verify(stored_hash, password))
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return bool(self._hasher.check_needs_rehash(stored_hash))

    def check_policy(self, password: str, *, forbidden: tuple[str, ...] = ()) -> None:
        """Raise ValidationError naming the rule the new password breaks."""
        if len(password) < self.min_length:
            raise ValidationError(
                f"password must be at least {self.min_length} characters",
                code="password.too_short",
            )
        if len(password) > MAX_LENGTH:
            raise ValidationError(
                f"password must be at most {MAX_LENGTH} characters", code="password.too_long"
            )
        lowered = password.lower()
        if lowered in _COMMON or len(set(password)) < 4:
            raise ValidationError("password is too easy to guess", code="password.common")
        if any(f and f.lower() in lowered for f in forbidden):
            raise ValidationError(
                "password must not contain your ID number or phone number",
                code="password.personal",
            )
