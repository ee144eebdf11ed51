"""Connections to the outside world: API keys, credentials, webhooks, providers, sync jobs."""
