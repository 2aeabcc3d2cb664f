"""iSupport Governance: the maintenance service of iSupport run as a git repository."""

__version__ = "0.1.0"
