"""SQLAlchemy models of the domain. Importing this package registers every table."""

from .org import Tenant, Department, Role, User, UserRole, RoleCode
from .matters import Matter, MatterTypeLink
from .cert_types import CertificateType, TypeField, ValueType
from .catalogs import Catalog, ShareType
from .certificates import Certificate, CertificateCopy, CertificateStatus, SerialCounter
from .approvals import ApprovalRecord
from .audit import AuditEntry, AuditHead
from .keys import DataKey
from .outbox import OutboxItem

__all__ = [
    "Tenant", "Department", "Role", "User", "UserRole", "RoleCode",
    "Matter", "MatterTypeLink",
    "CertificateType", "TypeField", "ValueType",
    "Catalog", "ShareType",
    "Certificate", "CertificateCopy", "CertificateStatus", "SerialCounter",
    "ApprovalRecord", "AuditEntry", "AuditHead", "DataKey", "OutboxItem",
]
from .pipeline import IssuanceStep, StepStatus
from .signing import PdfSigningIdentity, SigningIdentity
__all__ += ["IssuanceStep", "StepStatus", "SigningIdentity", "PdfSigningIdentity"]
from .sharing import ClientSystem, UsageApplication, UsageRecord, UsageStatus
__all__ += ["ClientSystem", "UsageApplication", "UsageRecord", "UsageStatus"]
