"""In-app inbox, outbox, WeChat subscribe messages, approval-system webhooks and their worker."""
