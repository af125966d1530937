"""Pure model and science of virtualobserver: no files, no database, no network, no UI."""
