"""Use cases of virtualobserver over abstract ports; knows no database, file format or UI."""
