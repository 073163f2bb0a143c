"""pyk8s.ingress: the Ingress controller, with Debian's nginx as the data plane
(DESIGN §8), behaving as ingress-nginx does.

The pipeline, one module each (import the modules):

- ``classes``: which Ingresses are ours; ``bootstrap``: our IngressClass manifest.
- ``annotations``, ``endpoints``, ``tlscerts``: reading annotations, EndpointSlices and
  ``kubernetes.io/tls`` Secrets (pure).
- ``model``: ``build(Snapshot) -> Configuration`` — servers, locations, upstreams,
  certificates and problems (pure); ``routing``: which location nginx picks for a
  request (pure, for tests and tools).
- ``nginxconf``: ``render(Configuration, RenderOptions) -> str`` (pure).
- ``nginx``: test, swap in, start, reload and stop nginx (I/O).
- ``controller``: informers → coalesced syncs → validated apply, Events, status;
  ``run_ingress_controller(client=, config=)`` for embedding; ``config``: the settings;
  ``status``, ``metrics``: ``status.loadBalancer`` and Prometheus metrics.
"""
