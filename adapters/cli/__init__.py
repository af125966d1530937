"""The headless ``vo`` command."""
