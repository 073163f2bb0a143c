"""pyk8s.client: how every component other than the apiserver talks to it (DESIGN §6).

The pipeline, one module each (import the modules, e.g.
``from pyk8s.client import informer`` → ``informer.SharedInformer``):

- ``config``: where the server is and how to authenticate (kubeconfig, in-cluster).
- ``rest``: ``RESTClient``, the HTTP client with QPS limits; ``errors``: what it raises.
- ``reflector``: list + watch that keeps a ``store.Store`` equal to the server's view.
- ``informer``: ``SharedInformer`` (reflector + store + handlers) and its factory.
- ``workqueue``: ``WorkQueue[ObjectKey]`` and the ``run_workers`` loop for ``sync(key)``.
- ``leaderelection``: Lease-based leader election; ``events``: the event recorder.
- ``clock``/``ratelimit``: time and back-off; ``testing``: a fake clock and a fake
  lister-watcher for tests; ``kubeconfig``: reading and writing kubeconfig files.
"""
