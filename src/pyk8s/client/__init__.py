"""pyk8s.client."""
