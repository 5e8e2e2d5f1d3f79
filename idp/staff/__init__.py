"""Security staff (issue 6): accounts and roles, API tokens, console sessions, the citizen desk."""

from idp.staff.accounts import StaffEnrolment, StaffRecord, StaffService
from idp.staff.credentials import ConsoleSessions, StaffTokens
from idp.staff.desk import Actor, CitizenDesk

__all__ = ["Actor", "CitizenDesk", "ConsoleSessions", "StaffEnrolment", "StaffRecord",
           "StaffService", "StaffTokens"]
