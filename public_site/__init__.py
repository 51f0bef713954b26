"""The public site for journalists and the public (served by ``frontier-ledger serve`` at ``/``).

Reads the log through the ledger's read-only query layer (:class:`ledger.read.reader.LogReader`,
:class:`ledger.read.views.LogView`): :mod:`public_site.pages` builds each page as plain data
(:mod:`public_site.schedule` the schedule's pages, :mod:`public_site.scorecards` the labs' and
the regulator's scorecards, :mod:`public_site.register` the register of
approved models and the home page's answers, :mod:`public_site.compute` compute attested
against compute declared), :mod:`public_site.routes`, :mod:`public_site.routes_register` and
:mod:`public_site.routes_compute` serve it as HTML (Jinja2, autoescaped, strict CSP), JSON,
CSV or Atom, and ``static/verify.js`` checks an entry in the reader's own browser.
"""
