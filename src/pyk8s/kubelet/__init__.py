"""pyk8s.kubelet."""
