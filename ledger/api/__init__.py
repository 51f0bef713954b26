"""HTTP API: the C2SP tlog-tiles read paths under /log/ and the JSON API under /api/v1/."""
