"""The reviewer triage queue: ranked notes, claims, finding and note decisions, an audit trail."""

from reviewer.triage.labels import LabelledCase, corpus_zip, export_overrides, write_corpus
from reviewer.triage.service import (
    AuditRecord,
    ConflictError,
    ItemDetail,
    NotFoundError,
    QueueEntry,
    TriageError,
    TriageQueue,
    Verdict,
)
from reviewer.triage.users import ROLES, Account, Accounts, SignIn, UserError, hash_password

__all__ = [
    "ROLES",
    "Account",
    "Accounts",
    "AuditRecord",
    "ConflictError",
    "ItemDetail",
    "LabelledCase",
    "NotFoundError",
    "QueueEntry",
    "SignIn",
    "TriageError",
    "TriageQueue",
    "UserError",
    "Verdict",
    "corpus_zip",
    "export_overrides",
    "hash_password",
    "write_corpus",
]
