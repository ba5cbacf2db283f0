"""Django's PostgreSQL backend with a cheaper reuse check (see ``base.DatabaseWrapper``)."""
