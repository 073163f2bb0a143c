"""The simulated node runtime (``pyk8s agent --runtime sim --nodes N``, DESIGN §7): one
process plays N kubelets the way KWOK does, without containers.

Modules (import them as modules):

- ``config``: what the agent plays — ``NodeTemplate``, ``PodTimings``, ``Heartbeat``,
  ``SimConfig`` — and the failure-injection annotations/labels.
- ``lifecycle``: the pod state machine, pure: ``plan(pod, facts, timings, now)`` → the
  status a kubelet would report now, when it next changes, whether to delete the pod.
  ``containers``: one container's runs, restarts and back-off, and its ContainerStatus.
- ``node_objects``: the Node, its status and its Lease, pure; ``ipam``: podCIDRs, node
  addresses (made up, never contacted) and pod IPs.
- ``nodes``: registration and heartbeats (Leases, node status) for all N nodes from one
  work queue; ``pods``: the pod workers that write what ``lifecycle`` says.
- ``runtime``: ``SimRuntime`` wires informers, nodes and pods into one ``run(stop)``;
  ``metrics``: its Prometheus counters.

The agent only ever talks to the apiserver.
"""
