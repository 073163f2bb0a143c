"""pyk8s.apiserver."""
