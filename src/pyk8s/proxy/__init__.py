"""pyk8s.proxy."""
