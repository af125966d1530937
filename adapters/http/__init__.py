"""Shared HTTP download layer of the survey clients: retries, rate limits, atomic downloads, raw-answer cache."""
