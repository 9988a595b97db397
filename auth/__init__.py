"""Identity: tokens, staff passwords, department signatures, roles and decorators."""
