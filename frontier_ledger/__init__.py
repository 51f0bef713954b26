"""The composition: the log service with the public site mounted on it.

The layers import one way — ``verifier`` ← ``ledger`` ← ``public_site`` ← this
package — and only this package knows all three: :mod:`frontier_ledger.app` mounts
the site's routers on the ledger's API, :mod:`frontier_ledger.cli` is the
``frontier-ledger`` command (the ledger's commands plus the site's ``export-site``).
"""
