"""Synthetic ERP and planning extracts of a field-service operator (see README.md).

Entry point: ``data_generation.field_service.generate``.
"""
