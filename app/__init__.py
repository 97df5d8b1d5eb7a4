"""opportunity-gateway: a typed GraphQL gateway over CRM opportunity data."""

__version__ = "0.1.0"
