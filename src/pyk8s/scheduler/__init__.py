"""pyk8s.scheduler."""
