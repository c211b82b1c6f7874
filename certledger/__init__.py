"""CertLedger core: configuration, data directory, database and crypto shared by every feature."""

__version__ = "0.1.0"
