"""pyk8s.api."""
