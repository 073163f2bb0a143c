"""pyk8s.ingress."""
