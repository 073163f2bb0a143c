"""pyk8s.dns."""
