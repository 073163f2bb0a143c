"""The controller-manager's controllers, one module each (DESIGN §3).

``ALL`` maps each controller's name (upstream's, as ``--controllers`` takes them) to its
factory; ``manager.py`` runs them under leader election.
"""

from __future__ import annotations

from pyk8s.controllers import (
    cronjob,
    daemonset,
    deployment,
    disruption,
    endpoints,
    endpointslice,
    garbagecollector,
    job,
    namespace,
    nodeipam,
    nodelifecycle,
    persistentvolume,
    podgc,
    replicaset,
    rootcacert,
    serviceaccount,
    statefulset,
    ttlafterfinished,
)
from pyk8s.controllers.context import Factory

__all__ = ["ALL"]

ALL: dict[str, Factory] = {
    "deployment-controller": deployment.new_deployment_controller,
    "replicaset-controller": replicaset.new_replicaset_controller,
    "replicationcontroller-controller": replicaset.new_replicationcontroller_controller,
    "garbage-collector-controller": garbagecollector.new_garbage_collector,
    "namespace-controller": namespace.new_namespace_controller,
    "statefulset-controller": statefulset.new,
    "daemonset-controller": daemonset.new,
    "job-controller": job.new,
    "cronjob-controller": cronjob.new,
    "ttl-after-finished-controller": ttlafterfinished.new,
    "pod-garbage-collector-controller": podgc.new,
    "endpointslice-controller": endpointslice.new,
    "endpoints-controller": endpoints.new,
    "serviceaccount-controller": serviceaccount.new,
    "root-ca-certificate-publisher-controller": rootcacert.new,
    "node-ipam-controller": nodeipam.new,
    "persistentvolume-binder-controller": persistentvolume.new,
    "node-lifecycle-controller": nodelifecycle.new,
    "disruption-controller": disruption.new,
}
