"""Who may see and do what on the desk. Deny by default.

- A named person sees the concerns assigned to them, and the unassigned ones routed to their unit
  (so one of them can take it).
- A unit lead sees every concern routed to their unit.
- An admin manages the directory and reads the audit log, but sees no concern: children's data is
  for the people who work with them.
A concern nobody may see answers 404, not 403: a guessed id reveals nothing.
"""

from __future__ import annotations

from storage.desk import Staff
from storage.models import Concern

CASE_ROLES = ("named_person", "unit_lead")


def can_see(staff: Staff, concern: Concern) -> bool:
    if not staff.active or staff.unit_id is None or staff.role not in CASE_ROLES:
        return False
    if staff.role == "unit_lead":
        return concern.unit_id == staff.unit_id
    return concern.assigned_to_id == staff.id or (
        concern.assigned_to_id is None and concern.unit_id == staff.unit_id
    )


def can_work(staff: Staff, concern: Concern) -> bool:
    """Acknowledge, note, message the family, change status, close: whoever may see it, while open."""
    return can_see(staff, concern) and concern.status != "closed"


def can_assign(staff: Staff, concern: Concern, target: Staff | None, target_unit_id: int) -> bool:
    """Assign within the unit, or transfer to another unit (its queue, or one of its named persons).

    A named person may take an unassigned concern of their unit, or hand theirs on; a unit lead may
    assign any concern of the unit to anyone in it, or transfer it.
    """
    if not can_work(staff, concern):
        return False
    if target is not None and (
        not target.active or target.role != "named_person" or target.unit_id != target_unit_id
    ):
        return False
    if staff.role == "unit_lead":
        return True
    if concern.assigned_to_id is None:  # a named person may take it, or send it on
        return target is None or target.id == staff.id or target_unit_id != staff.unit_id
    return concern.assigned_to_id == staff.id


def can_manage_directory(staff: Staff) -> bool:
    return staff.active and staff.role == "admin"


def can_read_audit(staff: Staff) -> bool:
    return staff.active and staff.role == "admin"
