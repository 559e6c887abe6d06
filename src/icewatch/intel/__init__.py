"""The IP-intelligence adapter: data files, downloads, the embedded default, operator
lists, and the enricher that puts lookups with provenance into a session's evidence.

* :mod:`~icewatch.intel.sources` — the catalogue of sources (official URLs, formats,
  licences) and the ``data_sources`` setting;
* :mod:`~icewatch.intel.fetch` — one download: conditional requests, bounds, timeouts;
* :mod:`~icewatch.intel.update` — ``icewatch data update``: fetch, parse, compile into a
  new file, verify, swap atomically; keep the last good copy of any source that fails;
* :mod:`~icewatch.intel.status` — ``icewatch data status``;
* :mod:`~icewatch.intel.embedded` — the default data shipped with the install;
* :mod:`~icewatch.intel.lists` — operator lists (``--list KIND=PATH``);
* :mod:`~icewatch.intel.runtime` — what the server looks addresses up in;
* :mod:`~icewatch.intel.enrich` — the enricher the service adds to the web adapter.

Importing this package costs nothing: modules that need httpx or the core's compiled
format are imported by whoever uses them.
"""
