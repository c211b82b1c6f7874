"""Who is acting: the identity every service call is checked and recorded against."""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import PermissionDenied
from .models import RoleCode


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    username: str
    tenant_id: int
    department_id: int | None
    roles: frozenset[str] = field(default_factory=frozenset)  # role codes in the current department
    is_admin: bool = False                                      # holds the configured admin role
    ip: str = ""

    def require(self, *roles: RoleCode) -> None:
        """Admins pass every role check; others need one of ``roles`` in their current department."""
        if self.is_admin:
            return
        if not self.roles.intersection(r.value for r in roles):
            names = ", ".join(r.value for r in roles)
            raise PermissionDenied(f"{self.username} needs one of the roles: {names}")

    def require_admin(self) -> None:
        if not self.is_admin:
            raise PermissionDenied(f"{self.username} is not a platform administrator")

    def require_department(self) -> int:
        if self.department_id is None:
            raise PermissionDenied(f"{self.username} has no current department")
        return self.department_id

    def can_see_department(self, department_id: int) -> bool:
        return self.is_admin or department_id == self.department_id


SYSTEM = Actor(user_id=None, username="system", tenant_id=0, department_id=None, is_admin=True)
