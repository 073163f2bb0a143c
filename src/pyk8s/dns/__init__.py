"""pyk8s.dns: the cluster DNS server (DESIGN §8) — the Kubernetes DNS-Based Service
Discovery schema 1.1.0, answered the way CoreDNS's *kubernetes* plugin does with kubeadm's
Corefile, from informers on Services, EndpointSlices and Namespaces.

The pipeline, one module each (import the modules, e.g. ``from pyk8s.dns import server``):

- ``zone``: the indexed state (``ZoneData``) and ``service_entry`` (Service + slices → what
  DNS keeps), pure.
- ``records``: ``resolve(zone, labels, qtype)`` → ``Answer``, pure: every naming rule.
- ``wire``: query parsing and answers encoded once as templates (dnslib); ``responder``:
  the answer cache in front of ``records`` (packet in → packet out, no I/O).
- ``watch``: informers → ``ZoneData`` (level-triggered per Service key).
- ``forward``: upstream resolvers (UDP/TCP) for names outside the zone.
- ``server``: ``DnsServer``/``run_dns`` — UDP and TCP listeners and the metrics port
  (``metrics``: /metrics, /health, /ready).
- ``bootstrap``: the ``kube-system/kube-dns`` Service (and node EndpointSlice) manifests.
"""
