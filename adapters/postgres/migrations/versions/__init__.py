"""Revision scripts of the metadata database, oldest first."""
