"""pyk8s.kubelet: the node agent (DESIGN §7).

- ``pyk8s.kubelet.sim``: the simulated runtime (``pyk8s agent --runtime sim --nodes N``):
  N nodes registered and heartbeating from one process, their pods moved through their
  lifecycle without containers, with configurable timings and failure injection.
- The CRI runtime (``pyk8s agent --runtime cri``, ``pyk8s kubelet``): ``kubelet.Kubelet``
  runs a node's pods as containers on containerd. Its core: ``podworkers`` (one task per
  pod), ``sync`` (what a sync must do, pure), ``runtime`` (doing it through CRI),
  ``status`` (the pod status, pure) and ``statusmanager``, ``pleg`` (relisting the
  runtime), ``podsync`` (the three pod syncs), ``node`` (Node, Lease, status),
  ``staticpods``, ``housekeeping``, ``health``, ``backend`` (for the HTTPS ``server``).
  Around it: ``cri`` (the CRI client), ``containerd``, ``images``/``imagebuild``/
  ``pulling``, ``cni``, ``netsafety``, ``envvars``, ``volumes``, ``podnetconf``,
  ``probes``, ``hooks``, ``server``/``streaming``/``logs``.
"""
