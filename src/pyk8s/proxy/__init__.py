"""pyk8s.proxy: the service proxy (kube-proxy's nftables mode) and the built-in
LoadBalancer (DESIGN §8).

Modules, from pure to I/O:

- ``config``: ``ProxyConfig``. ``model``: Services/EndpointSlices/Node distilled into
  service ports and endpoints (CategorizeEndpoints). ``nft``: a table as data and the
  atomic ``nft -f`` scripts. ``rules``: ``render(services, slices, node, config)`` → the
  script for the whole table.
- ``nftables`` (runs ``nft``), ``sysctl`` (route_localnet), ``metrics`` (/metrics,
  /healthz), ``servicelb`` (LoadBalancer addresses → Service status), ``proxier``
  (informers, coalesced syncs, ``run_proxy``).
- ``netpol`` / ``netpol_rules``: NetworkPolicy enforcement in its own table
  (``inet pyk8s-netpol``), independent of the service proxy.

Embedding: ``await proxier.run_proxy(client=…, node_name=…, config=ProxyConfig(…))``.
"""
