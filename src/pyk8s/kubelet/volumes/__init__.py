"""Pod volumes on the node (DESIGN §7): the kubelet prepares each volume on the host and
the runtime bind-mounts it into containers.

- ``manager``: ``VolumeManager`` (setup / refresh / teardown per pod, container mounts).
- ``mounts``: ``container_mounts`` and ``Mount`` (pure: which host path goes where).
- ``payloads``: configMap / secret / downwardAPI / projected contents (pure).
- ``atomic_writer``: upstream's ``..data`` symlink-swap writer.
- ``emptydir``: emptyDir directories and tmpfs mounts; the host's mount table.
- ``hostpath``: hostPath type checks.
"""
