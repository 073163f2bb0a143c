"""pyk8s.kubelet: the node agent (DESIGN §7).

- ``pyk8s.kubelet.sim``: the simulated runtime (``pyk8s agent --runtime sim --nodes N``):
  N nodes registered and heartbeating from one process, their pods moved through their
  lifecycle without containers, with configurable timings and failure injection.
- The CRI runtime (real containers through containerd) is not written yet.
"""
