"""Keeping the log safe: online backups, restores that refuse a rollback."""
