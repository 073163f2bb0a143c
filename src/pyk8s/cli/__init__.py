"""pyk8s.cli."""
