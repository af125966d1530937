"""PostgreSQL adapters: imperative ORM mapping, repositories, unit of work, migrations and an embedded server."""
