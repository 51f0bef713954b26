"""The public site for journalists and the public (served by ``frontier-ledger serve``).

Reads the log through the ledger's read-only query layer. Pages, feeds and the
in-browser verification arrive with the public-site work; this package exists
so the distribution's layout is fixed from the start.
"""
