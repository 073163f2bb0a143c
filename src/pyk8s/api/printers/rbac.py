"""Printers for rbac.authorization.k8s.io/v1 bindings, with upstream's columns.

ROLE is ``Kind/name``; the wide USERS, GROUPS and SERVICEACCOUNTS list the subjects
(service accounts as ``namespace/name``), comma-and-space separated. Roles and cluster
roles have no printer upstream and get the default table (NAME, CREATED AT).
"""

from __future__ import annotations

from datetime import datetime

from pyk8s.api.printers import descriptions as d
from pyk8s.api.printers.columns import AGE, NAME, Cell, ColumnDefinition, Printer, column
from pyk8s.api.printers.formatting import Obj, get_list, get_map, get_str, since

__all__ = ["PRINTERS"]


def _binding(obj: Obj, now: datetime) -> list[Cell]:
    meta, ref = get_map(obj, "metadata"), get_map(obj, "roleRef")
    users, groups, service_accounts = [], [], []
    for subject in get_list(obj, "subjects"):
        kind, name = get_str(subject, "kind"), get_str(subject, "name")
        if kind == "ServiceAccount":
            service_accounts.append(f"{get_str(subject, 'namespace')}/{name}")
        elif kind == "User":
            users.append(name)
        elif kind == "Group":
            groups.append(name)
    return [
        get_str(meta, "name"),
        f"{get_str(ref, 'kind')}/{get_str(ref, 'name')}",
        since(meta.get("creationTimestamp"), now),
        ", ".join(users),
        ", ".join(groups),
        ", ".join(service_accounts),
    ]


def _columns(role_ref_doc: str, what: str) -> tuple[ColumnDefinition, ...]:
    return (
        NAME,
        column("Role", "string", role_ref_doc),
        AGE,
        column("Users", "string", f"Users in the {what}", priority=1),
        column("Groups", "string", f"Groups in the {what}", priority=1),
        column("ServiceAccounts", "string", f"ServiceAccounts in the {what}", priority=1),
    )


PRINTERS = {
    ("rbac.authorization.k8s.io", "rolebindings"): Printer(
        _columns(d.ROLE_BINDING_ROLE_REF, "roleBinding"), _binding
    ),
    ("rbac.authorization.k8s.io", "clusterrolebindings"): Printer(
        _columns(d.CLUSTER_ROLE_BINDING_ROLE_REF, "clusterRoleBinding"), _binding
    ),
}
