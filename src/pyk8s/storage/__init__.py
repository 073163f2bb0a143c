"""Storage engines behind one async interface (DESIGN §4).

Only the apiserver imports this package. ``interface`` holds the contract, ``errors`` the
exceptions, ``sqlite`` the embedded default and ``etcd`` the etcd v3 backend.
"""
