"""pyk8s.scheduler: kube-scheduler's framework, default plugins and queue, and the process.

Pure logic (no I/O): ``framework`` (extension points in ``interface``, ``Framework`` with
``schedule_one``), ``status`` (``Status``, ``FitError``), ``podinfo``/``nodeinfo``/
``snapshot`` (the cluster model with numpy columns), ``resources`` (effective requests),
``plugins`` (one module per plugin), ``queue`` (activeQ/backoffQ/unschedulable),
``config`` (KubeSchedulerConfiguration v1). I/O: ``scheduler`` (informers, the loop,
binding, events, leader election), ``apiwriter`` and ``metrics``. ``testing`` has
builders for tests and benchmarks.
"""
