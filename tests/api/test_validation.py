"""Validation of built-in kinds: accepted and rejected objects with upstream's exact
messages.  Each case runs the apiserver's create/update pipeline (defaults → strategy
prepare → validate), as upstream's store does."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from pyk8s.api import validation
from pyk8s.api.defaults import apply_defaults
from pyk8s.api.validation import field, names
from pyk8s.api.validation.batch import parse_schedule_error
from pyk8s.api.validation.quantity import parse_quantity

Obj = dict[str, Any]

POD = ("", "pods")
SVC = ("", "services")
DEPLOY = ("apps", "deployments")
STS = ("apps", "statefulsets")
DS = ("apps", "daemonsets")
RS = ("apps", "replicasets")
JOB = ("batch", "jobs")
CRON = ("batch", "cronjobs")
ING = ("networking.k8s.io", "ingresses")
NETPOL = ("networking.k8s.io", "networkpolicies")
CM = ("", "configmaps")
SECRET = ("", "secrets")
NS = ("", "namespaces")
RB = ("rbac.authorization.k8s.io", "rolebindings")
ROLE = ("rbac.authorization.k8s.io", "roles")

CLUSTER_SCOPED = {NS, ("", "nodes"), ("", "persistentvolumes")}

DNS_SUBDOMAIN_ERR = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
DNS_LABEL_ERR = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name' or '123-abc', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1035_ERR = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name' or 'abc-123', "
    "regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)


def _prepare(key: tuple[str, str], obj: Obj) -> Obj:
    obj = copy.deepcopy(obj)
    meta = obj.setdefault("metadata", {})
    if key not in CLUSTER_SCOPED:
        meta.setdefault("namespace", "default")
    meta.setdefault("uid", "0b5e3c1e-0000-4000-8000-000000000001")
    apply_defaults(key, obj)
    validation.prepare_for_create(key, obj)
    return obj


def create_messages(key: tuple[str, str], obj: Obj) -> list[str]:
    return [c.message for c in validation.validate_create(key, _prepare(key, obj))]


def update_messages(key: tuple[str, str], new: Obj, old: Obj) -> list[str]:
    stored = _prepare(key, old)
    stored["metadata"]["resourceVersion"] = "7"
    new = copy.deepcopy(new)
    meta = new.setdefault("metadata", {})
    for k in ("namespace", "uid", "resourceVersion"):
        if k in stored["metadata"]:
            meta.setdefault(k, stored["metadata"][k])
    apply_defaults(key, new)
    validation.prepare_for_update(key, new, stored)
    return [c.message for c in validation.validate_update(key, new, stored)]


def pod(**spec: Any) -> Obj:
    base: Obj = {"containers": [{"name": "app", "image": "nginx:1.27"}]}
    base.update(spec)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": base}


def container(**fields: Any) -> Obj:
    c: Obj = {"name": "app", "image": "nginx:1.27"}
    c.update(fields)
    return c


def deployment(selector: Obj | None = None, labels: Obj | None = None, **spec: Any) -> Obj:
    body: Obj = {
        "selector": {"matchLabels": {"app": "web"}} if selector is None else selector,
        "template": {
            "metadata": {"labels": {"app": "web"} if labels is None else labels},
            "spec": {"containers": [{"name": "nginx", "image": "nginx"}]},
        },
    }
    body.update(spec)
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": body,
    }


def job(**spec: Any) -> Obj:
    body: Obj = {
        "template": {
            "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}
        }
    }
    body.update(spec)
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "pi"}, "spec": body}


def cronjob(schedule: str, **spec: Any) -> Obj:
    body: Obj = {"schedule": schedule, "jobTemplate": {"spec": job()["spec"]}}
    body.update(spec)
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": "hello"},
        "spec": body,
    }


def service(**spec: Any) -> Obj:
    body: Obj = {"selector": {"app": "web"}, "ports": [{"port": 80}]}
    body.update(spec)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"}, "spec": body}


def ingress_path(**p: Any) -> Obj:
    path: Obj = {
        "path": "/",
        "pathType": "Prefix",
        "backend": {"service": {"name": "web", "port": {"number": 80}}},
    }
    path.update(p)
    return {
        "metadata": {"name": "ing"},
        "spec": {"rules": [{"host": "foo.example.com", "http": {"paths": [path]}}]},
    }


CREATE_CASES = [
    # --- metadata -------------------------------------------------------------------------
    pytest.param(POD, pod(), [], id="pod-minimal-accepted"),
    pytest.param(
        POD,
        {**pod(), "metadata": {"name": "Foo"}},
        [f'metadata.name: Invalid value: "Foo": {DNS_SUBDOMAIN_ERR}'],
        id="pod-name-not-dns-subdomain",
    ),
    pytest.param(
        POD,
        {**pod(), "metadata": {}},
        ["metadata.name: Required value: name or generateName is required"],
        id="name-required",
    ),
    pytest.param(
        CM,
        {"metadata": {"name": "c", "labels": {"app": "a b"}}},
        [
            'metadata.labels: Invalid value: "a b": a valid label must be an empty string or '
            "consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
            "alphanumeric character (e.g. 'MyValue' or 'my_value' or '12345', regex used for "
            "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
        ],
        id="label-value-invalid",
    ),
    pytest.param(
        CM,
        {"metadata": {"name": "c", "labels": {"-bad": "x"}}},
        [
            'metadata.labels: Invalid value: "-bad": name part must consist of alphanumeric '
            "characters, '-', '_' or '.', and must start and end with an alphanumeric character "
            "(e.g. 'MyName' or 'my.name' or '123-abc', regex used for validation is "
            "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
        ],
        id="label-key-invalid",
    ),
    pytest.param(
        CM,
        {"metadata": {"name": "c", "annotations": {"big": "x" * (256 * 1024)}}},
        ["metadata.annotations: Too long: may not be more than 262144 bytes"],
        id="annotations-too-large",
    ),
    pytest.param(
        CM,
        {"metadata": {"name": "c", "finalizers": ["custom"]}},
        [
            'metadata.finalizers[0]: Invalid value: "custom": name is neither a standard '
            "finalizer name nor is it fully qualified"
        ],
        id="finalizer-not-qualified",
    ),
    pytest.param(
        NS,
        {"metadata": {"name": "Team_A"}},
        [f'metadata.name: Invalid value: "Team_A": {DNS_LABEL_ERR}'],
        id="namespace-name-is-dns-label",
    ),
    pytest.param(NS, {"metadata": {"name": "team-a"}}, [], id="namespace-accepted"),
    # --- Pod ---------------------------------------------------------------------------------
    pytest.param(POD, pod(containers=[]), ["spec.containers: Required value"], id="no-containers"),
    pytest.param(
        POD,
        pod(containers=[{"name": "app"}]),
        ["spec.containers[0].image: Required value"],
        id="image-required",
    ),
    pytest.param(
        POD,
        pod(containers=[{"image": "nginx"}]),
        ["spec.containers[0].name: Required value"],
        id="container-name-required",
    ),
    pytest.param(
        POD,
        pod(containers=[container(), container()]),
        ['spec.containers[1].name: Duplicate value: "app"'],
        id="duplicate-container-name",
    ),
    pytest.param(
        POD,
        pod(containers=[container(ports=[{"containerPort": 70000}])]),
        [
            "spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 "
            "and 65535, inclusive"
        ],
        id="container-port-out-of-range",
    ),
    pytest.param(
        POD,
        pod(containers=[container(env=[{"name": "A=B", "value": "x"}])]),
        [
            'spec.containers[0].env[0].name: Invalid value: "A=B": a valid environment variable '
            "name must consist only of printable ASCII characters other than '='"
        ],
        id="env-name-with-equals",
    ),
    pytest.param(
        POD,
        pod(containers=[container(env=[{"name": "A", "valueFrom": {}}])]),
        [
            'spec.containers[0].env[0].valueFrom: Invalid value: "": must specify one of: '
            "`fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"
        ],
        id="env-value-from-empty",
    ),
    pytest.param(
        POD,
        pod(
            containers=[
                container(livenessProbe={"exec": {"command": ["true"]}, "successThreshold": 2})
            ]
        ),
        ["spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1"],
        id="liveness-success-threshold",
    ),
    pytest.param(
        POD,
        pod(containers=[container(readinessProbe={"periodSeconds": 5})]),
        ["spec.containers[0].readinessProbe: Required value: must specify a handler type"],
        id="probe-without-handler",
    ),
    pytest.param(
        POD,
        pod(containers=[container(resources={"requests": {"cpu": "2"}, "limits": {"cpu": "1"}})]),
        [
            'spec.containers[0].resources.requests: Invalid value: "2": must be less than or '
            "equal to cpu limit of 1"
        ],
        id="requests-exceed-limits",
    ),
    pytest.param(
        POD,
        pod(containers=[container(resources={"limits": {"foo": "1"}})]),
        [
            'spec.containers[0].resources.limits[foo]: Invalid value: "foo": must be a standard '
            "resource type or fully qualified",
            'spec.containers[0].resources.limits[foo]: Invalid value: "foo": must be a standard '
            "resource for containers",
            # a Pod's requests default to its limits, so upstream reports the name twice over
            'spec.containers[0].resources.requests[foo]: Invalid value: "foo": must be a '
            "standard resource type or fully qualified",
            'spec.containers[0].resources.requests[foo]: Invalid value: "foo": must be a '
            "standard resource for containers",
        ],
        id="unknown-resource-name",
    ),
    pytest.param(
        POD,
        pod(containers=[container(resources={"limits": {"nvidia.com/gpu": 1}})]),
        [],
        id="extended-resource-limit-only-defaults-request",
    ),
    pytest.param(
        POD,
        pod(restartPolicy="Sometimes"),
        [
            'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", '
            '"OnFailure", "Never"'
        ],
        id="restart-policy-unsupported",
    ),
    pytest.param(
        POD,
        pod(containers=[container(volumeMounts=[{"name": "data", "mountPath": "/data"}])]),
        ['spec.containers[0].volumeMounts[0].name: Not found: "data"'],
        id="volume-mount-not-found",
    ),
    pytest.param(
        POD,
        pod(volumes=[{"name": "cfg", "configMap": {"name": "c", "defaultMode": 1000}}]),
        [
            "spec.volumes[0].configMap.defaultMode: Invalid value: 1000: must be a number "
            "between 0 and 0777 (octal), both inclusive"
        ],
        id="volume-default-mode",
    ),
    pytest.param(
        POD,
        pod(
            volumes=[
                {"name": "a", "emptyDir": {}, "hostPath": {"path": "/tmp"}},
            ]
        ),
        ["spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type"],
        id="volume-two-sources",
    ),
    pytest.param(
        POD,
        pod(initContainers=[container(name="init", readinessProbe={"exec": {"command": ["x"]}})]),
        [
            "spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers "
            "without restartPolicy=Always"
        ],
        id="init-container-probe-forbidden",
    ),
    pytest.param(
        POD,
        pod(
            initContainers=[
                container(
                    name="sidecar",
                    restartPolicy="Always",
                    readinessProbe={"exec": {"command": ["x"]}},
                )
            ]
        ),
        [],
        id="sidecar-container-accepted",
    ),
    pytest.param(
        POD,
        pod(tolerations=[{"operator": "Equal", "value": "x"}]),
        [
            'spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when '
            '`key` is empty, which means "match all values and all keys"'
        ],
        id="toleration-empty-key",
    ),
    pytest.param(
        POD,
        pod(dnsPolicy="None"),
        ["spec.dnsConfig: Required value: must provide `dnsConfig` when `dnsPolicy` is None"],
        id="dns-none-needs-config",
    ),
    pytest.param(
        POD,
        pod(containers=[container(image=" nginx")]),
        [
            'spec.containers[0].image: Invalid value: " nginx": must not have leading or '
            "trailing whitespace"
        ],
        id="image-whitespace",
    ),
    # --- Deployment / ReplicaSet / StatefulSet / DaemonSet -----------------------------------
    pytest.param(DEPLOY, deployment(), [], id="deployment-accepted"),
    pytest.param(
        DEPLOY,
        deployment(labels={"app": "x"}),
        [
            'spec.template.metadata.labels: Invalid value: map[string]string{"app":"x"}: '
            "`selector` does not match template `labels`"
        ],
        id="selector-does-not-match-template",
    ),
    pytest.param(
        DEPLOY,
        deployment(selector={}),
        [
            "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string(nil), "
            "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: empty selector is invalid for "
            "deployment"
        ],
        id="empty-selector",
    ),
    pytest.param(
        DEPLOY,
        deployment(strategy={"rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}}),
        [
            "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "
            'intstr.IntOrString{Type:0, IntVal:0, StrVal:""}: may not be 0 when `maxSurge` is 0'
        ],
        id="surge-and-unavailable-both-zero",
    ),
    pytest.param(
        DEPLOY,
        deployment(strategy={"type": "Recreate", "rollingUpdate": {"maxSurge": 1}}),
        [
            "spec.strategy.rollingUpdate: Forbidden: may not be specified when strategy `type` "
            "is 'Recreate'"
        ],
        id="recreate-with-rolling-update",
    ),
    pytest.param(
        DEPLOY,
        deployment(strategy={"rollingUpdate": {"maxUnavailable": "120%"}}),
        [
            "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: "
            'intstr.IntOrString{Type:1, IntVal:0, StrVal:"120%"}: must not be greater than 100%'
        ],
        id="max-unavailable-over-100-percent",
    ),
    pytest.param(
        DEPLOY,
        {
            **deployment(),
            "spec": {
                **deployment()["spec"],
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "restartPolicy": "Never",
                        "containers": [{"name": "c", "image": "i"}],
                    },
                },
            },
        },
        [
            'spec.template.spec.restartPolicy: Unsupported value: "Never": supported values: "Always"'
        ],
        id="deployment-restart-policy-never",
    ),
    pytest.param(
        DEPLOY,
        deployment(progressDeadlineSeconds=5, minReadySeconds=10),
        ["spec.progressDeadlineSeconds: Invalid value: 5: must be greater than minReadySeconds"],
        id="progress-deadline-below-min-ready",
    ),
    pytest.param(
        RS,
        {**deployment(replicas=-1), "kind": "ReplicaSet"},
        ["spec.replicas: Invalid value: -1: must be greater than or equal to 0"],
        id="replicaset-negative-replicas",
    ),
    pytest.param(
        STS,
        {
            "metadata": {"name": "web"},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "c",
                                "image": "nginx",
                                "volumeMounts": [{"name": "www", "mountPath": "/w"}],
                            }
                        ]
                    },
                },
                "volumeClaimTemplates": [
                    {
                        "metadata": {"name": "www"},
                        "spec": {
                            "accessModes": ["ReadWriteOnce"],
                            "resources": {"requests": {"storage": "1Gi"}},
                        },
                    }
                ],
            },
        },
        [],
        id="statefulset-claim-template-mount-accepted",
    ),
    pytest.param(
        STS,
        {**deployment(), "kind": "StatefulSet", "metadata": {"name": "web.v2"}},
        [
            'metadata.name: Invalid value: "web.v2": must not contain dots',
        ],
        id="statefulset-name-is-dns-label",
    ),
    pytest.param(
        DS,
        {
            **deployment(),
            "kind": "DaemonSet",
            "spec": {
                **deployment()["spec"],
                "updateStrategy": {"rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}},
            },
        },
        [
            "spec.updateStrategy.rollingUpdate.maxUnavailable: Required value: cannot be 0 when "
            "maxSurge is 0"
        ],
        id="daemonset-zero-zero",
    ),
    # --- Service -------------------------------------------------------------------------------
    pytest.param(SVC, service(), [], id="service-accepted"),
    pytest.param(SVC, service(ports=[]), ["spec.ports: Required value"], id="service-ports"),
    pytest.param(
        SVC,
        service(ports=[{"port": 80, "nodePort": 30080}]),
        ["spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'"],
        id="node-port-on-cluster-ip",
    ),
    pytest.param(
        SVC,
        service(ports=[{"port": 80}, {"port": 81}]),
        ["spec.ports[0].name: Required value", "spec.ports[1].name: Required value"],
        id="multi-port-names-required",
    ),
    pytest.param(
        SVC,
        service(type="Fancy"),
        [
            'spec.type: Unsupported value: "Fancy": supported values: "ClusterIP", '
            '"ExternalName", "LoadBalancer", "NodePort"'
        ],
        id="service-type-unsupported",
    ),
    pytest.param(
        SVC,
        {**service(), "metadata": {"name": "1web"}},
        [f'metadata.name: Invalid value: "1web": {DNS1035_ERR}'],
        id="service-name-dns1035",
    ),
    pytest.param(
        SVC,
        service(type="ExternalName", externalName="my.database.example.com", selector=None),
        [],
        id="external-name-accepted",
    ),
    pytest.param(
        SVC,
        service(clusterIP="10.96.0.500"),
        [
            'spec.clusterIPs[0]: Invalid value: "10.96.0.500": must be a valid IP address, '
            "(e.g. 10.9.8.7 or 2001:db8::ffff)"
        ],
        id="cluster-ip-invalid",
    ),
    pytest.param(
        SVC,
        service(type="NodePort", ports=[{"port": 80, "nodePort": 30007}]),
        [],
        id="node-port-accepted",
    ),
    # --- ConfigMap / Secret ------------------------------------------------------------------
    pytest.param(
        CM,
        {"metadata": {"name": "c"}, "data": {"a b": "x"}},
        [
            'data[a b]: Invalid value: "a b": a valid config key must consist of alphanumeric '
            "characters, '-', '_' or '.' (e.g. 'key.name' or 'KEY_NAME' or 'key-name', regex "
            "used for validation is '[-._a-zA-Z0-9]+')"
        ],
        id="configmap-key-invalid",
    ),
    pytest.param(
        CM,
        {"metadata": {"name": "c"}, "data": {"k": "x" * (1024 * 1024 + 1)}},
        [": Too long: may not be more than 1048576 bytes"],
        id="configmap-too-large",
    ),
    pytest.param(
        SECRET,
        {"metadata": {"name": "tls"}, "type": "kubernetes.io/tls", "data": {"tls.crt": "YQ=="}},
        ["data[tls.key]: Required value"],
        id="tls-secret-needs-key",
    ),
    pytest.param(
        SECRET,
        {
            "metadata": {"name": "reg"},
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": "bm90IGpzb24="},
        },
        [
            'data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": invalid '
            "character 'o' in literal null (expecting 'u')"
        ],
        id="dockerconfigjson-not-json",
    ),
    pytest.param(
        SECRET,
        {
            "metadata": {"name": "reg"},
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": "WzFd"},
        },
        [
            'data[.dockerconfigjson]: Invalid value: "<secret contents redacted>": json: cannot '
            "unmarshal array into Go value of type map[string]interface {}"
        ],
        id="dockerconfigjson-array",
    ),
    pytest.param(
        SECRET,
        {
            "metadata": {"name": "reg"},
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": "e30="},
        },
        [],
        id="dockerconfigjson-accepted",
    ),
    pytest.param(
        SECRET,
        {"metadata": {"name": "s"}, "stringData": {"password": "hunter2"}},
        [],
        id="secret-string-data-accepted",
    ),
    # --- Job / CronJob ------------------------------------------------------------------------
    pytest.param(JOB, job(), [], id="job-accepted"),
    pytest.param(
        JOB,
        {
            **job(),
            "spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}},
        },
        ['spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"'],
        id="job-restart-policy-always",
    ),
    pytest.param(
        JOB,
        job(completions=-1),
        ["spec.completions: Invalid value: -1: must be greater than or equal to 0"],
        id="job-negative-completions",
    ),
    pytest.param(
        JOB,
        job(completionMode="Indexed", parallelism=2),
        ["spec.completions: Required value: when completion mode is Indexed"],
        id="indexed-job-needs-completions",
    ),
    pytest.param(CRON, cronjob("*/5 * * * *"), [], id="cronjob-accepted"),
    pytest.param(CRON, cronjob("@hourly"), [], id="cronjob-descriptor"),
    pytest.param(
        CRON,
        cronjob("* * * *"),
        ['spec.schedule: Invalid value: "* * * *": expected exactly 5 fields, found 4: [* * * *]'],
        id="cron-field-count",
    ),
    pytest.param(
        CRON,
        cronjob("0 25 * * *"),
        ['spec.schedule: Invalid value: "0 25 * * *": end of range (25) above maximum (23): 25'],
        id="cron-hour-out-of-range",
    ),
    pytest.param(
        CRON,
        cronjob("CRON_TZ=UTC 0 * * * *"),
        [
            'spec.schedule: Invalid value: "CRON_TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in '
            "schedule, use timeZone field instead"
        ],
        id="cron-tz-in-schedule",
    ),
    pytest.param(
        CRON,
        cronjob("0 * * * *", timeZone="Mars/Olympus"),
        ['spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus'],
        id="cron-time-zone-unknown",
    ),
    pytest.param(CRON, cronjob("0 * * * *", timeZone="Europe/Paris"), [], id="cron-time-zone"),
    pytest.param(
        CRON,
        {**cronjob("0 * * * *"), "metadata": {"name": "x" * 53}},
        [f'metadata.name: Invalid value: "{"x" * 53}": must be no more than 52 characters'],
        id="cronjob-name-too-long",
    ),
    # --- Ingress / NetworkPolicy ----------------------------------------------------------------
    pytest.param(ING, ingress_path(), [], id="ingress-accepted"),
    pytest.param(ING, ingress_path(path="/(.*)"), [], id="ingress-regex-path-accepted"),
    pytest.param(
        ING,
        ingress_path(pathType=None),
        ["spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified"],
        id="ingress-path-type-required",
    ),
    pytest.param(
        ING,
        ingress_path(path="foo"),
        ['spec.rules[0].http.paths[0].path: Invalid value: "foo": must be an absolute path'],
        id="ingress-path-not-absolute",
    ),
    pytest.param(
        ING,
        ingress_path(path="/a//b"),
        ["spec.rules[0].http.paths[0].path: Invalid value: \"/a//b\": must not contain '//'"],
        id="ingress-path-double-slash",
    ),
    pytest.param(
        ING,
        ingress_path(backend={"service": {"name": "web", "port": {"number": 80, "name": "h"}}}),
        [
            'spec.rules[0].http.paths[0].backend: Invalid value: "": cannot set both port name '
            "& port number"
        ],
        id="ingress-port-name-and-number",
    ),
    pytest.param(
        ING,
        {"metadata": {"name": "ing"}, "spec": {}},
        [
            "spec: Invalid value: []networking.IngressRule(nil): either `defaultBackend` or "
            "`rules` must be specified"
        ],
        id="ingress-empty",
    ),
    pytest.param(
        ING,
        {
            "metadata": {"name": "ing"},
            "spec": {
                "rules": [{"host": "10.0.0.1", "http": ingress_path()["spec"]["rules"][0]["http"]}]
            },
        },
        ['spec.rules[0].host: Invalid value: "10.0.0.1": must be a DNS name, not an IP address'],
        id="ingress-host-ip",
    ),
    pytest.param(
        NETPOL,
        {
            "metadata": {"name": "np"},
            "spec": {"podSelector": {}, "ingress": [{"from": [{}]}]},
        },
        ["spec.ingress[0].from[0]: Required value: must specify a peer"],
        id="netpol-empty-peer",
    ),
    pytest.param(
        NETPOL,
        {
            "metadata": {"name": "np"},
            "spec": {
                "podSelector": {},
                "ingress": [
                    {"from": [{"ipBlock": {"cidr": "10.0.0.0/16", "except": ["10.1.0.0/24"]}}]}
                ],
            },
        },
        [
            'spec.ingress[0].from[0].ipBlock.except[0]: Invalid value: "10.1.0.0/24": must be a '
            "strict subset of `cidr`"
        ],
        id="netpol-except-outside-cidr",
    ),
    # --- RBAC ------------------------------------------------------------------------------------
    pytest.param(
        ROLE,
        {"metadata": {"name": "system:reader"}, "rules": [{"verbs": ["get"], "apiGroups": [""]}]},
        ["rules[0].resources: Required value: resource rules must supply at least one resource"],
        id="role-rule-without-resources",
    ),
    pytest.param(
        RB,
        {
            "metadata": {"name": "rb"},
            "roleRef": {"kind": "Role", "name": "r"},
            "subjects": [{"kind": "User", "name": "jane"}],
        },
        [],
        id="rolebinding-defaulted-api-groups",
    ),
    pytest.param(
        RB,
        {
            "metadata": {"name": "rb"},
            "roleRef": {"kind": "Thing", "name": "r"},
            "subjects": [{"kind": "Robot", "name": "r2"}],
        },
        [
            'roleRef.kind: Unsupported value: "Thing": supported values: "Role", "ClusterRole"',
            'subjects[0].kind: Unsupported value: "Robot": supported values: "ServiceAccount", '
            '"User", "Group"',
        ],
        id="rolebinding-bad-kinds",
    ),
]


def _strip_none(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _strip_none(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_strip_none(v) for v in obj]
    return obj


@pytest.mark.parametrize(("key", "obj", "expected"), CREATE_CASES)
def test_validate_create(key: tuple[str, str], obj: Obj, expected: list[str]) -> None:
    assert create_messages(key, _strip_none(obj)) == expected


UPDATE_CASES = [
    pytest.param(
        DEPLOY,
        deployment(
            selector={"matchLabels": {"app": "web", "v": "2"}}, labels={"app": "web", "v": "2"}
        ),
        deployment(),
        [
            "spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string"
            '{"app":"web", "v":"2"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: '
            "field is immutable"
        ],
        id="deployment-selector-immutable",
    ),
    pytest.param(DEPLOY, deployment(replicas=5), deployment(), [], id="deployment-scale"),
    pytest.param(
        POD,
        pod(containers=[container(image="nginx:1.28")]),
        pod(),
        [],
        id="pod-image-update-allowed",
    ),
    pytest.param(
        POD,
        pod(containers=[container(), container(name="extra")]),
        pod(),
        ["spec.containers: Forbidden: pod updates may not add or remove containers"],
        id="pod-add-container",
    ),
    pytest.param(
        SVC,
        service(clusterIP="10.96.0.11"),
        service(clusterIP="10.96.0.10"),
        ['spec.clusterIPs[0]: Invalid value: []string{"10.96.0.11"}: may not change once set'],
        id="service-cluster-ip-immutable",
    ),
    pytest.param(
        SVC,
        service(),
        service(clusterIP="10.96.0.10"),
        [],
        id="service-apply-without-cluster-ip-keeps-allocated",
    ),
    pytest.param(
        STS,
        {
            **deployment(),
            "kind": "StatefulSet",
            "spec": {**deployment()["spec"], "serviceName": "other"},
        },
        {
            **deployment(),
            "kind": "StatefulSet",
            "spec": {**deployment()["spec"], "serviceName": "web"},
        },
        [
            "spec: Forbidden: updates to statefulset spec for fields other than 'replicas', "
            "'ordinals', 'template', 'updateStrategy', 'revisionHistoryLimit', "
            "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
        ],
        id="statefulset-service-name-immutable",
    ),
    pytest.param(
        CM,
        {"metadata": {"name": "c"}, "data": {"a": "2"}, "immutable": True},
        {"metadata": {"name": "c"}, "data": {"a": "1"}, "immutable": True},
        ["data: Forbidden: field is immutable when `immutable` is set"],
        id="immutable-configmap",
    ),
    pytest.param(
        SECRET,
        {
            "metadata": {"name": "s"},
            "type": "kubernetes.io/basic-auth",
            "data": {"username": "YQ=="},
        },
        {"metadata": {"name": "s"}, "data": {"username": "YQ=="}},
        ['type: Invalid value: "kubernetes.io/basic-auth": field is immutable'],
        id="secret-type-immutable",
    ),
    pytest.param(
        RB,
        {"metadata": {"name": "rb"}, "roleRef": {"kind": "Role", "name": "b"}},
        {"metadata": {"name": "rb"}, "roleRef": {"kind": "Role", "name": "a"}},
        [
            'roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", '
            'Kind:"Role", Name:"b"}: cannot change roleRef'
        ],
        id="rolebinding-role-ref-immutable",
    ),
]


@pytest.mark.parametrize(("key", "new", "old", "expected"), UPDATE_CASES)
def test_validate_update(key: tuple[str, str], new: Obj, old: Obj, expected: list[str]) -> None:
    assert update_messages(key, new, old) == expected


def test_job_template_is_immutable() -> None:
    stored = _prepare(JOB, job())
    stored["metadata"]["resourceVersion"] = "7"
    new = copy.deepcopy(stored)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "other"
    validation.prepare_for_update(JOB, new, stored)
    assert [c.message for c in validation.validate_update(JOB, new, stored)] == [
        "spec.template: Invalid value: core.PodTemplateSpec{...}: field is immutable"
    ]
    assert new["metadata"]["generation"] == 2


def test_pod_update_of_other_fields_is_forbidden_with_upstream_preamble() -> None:
    messages = update_messages(POD, pod(restartPolicy="Never"), pod())
    assert len(messages) == 1
    assert messages[0].startswith(
        "spec: Forbidden: pod updates may not change fields other than "
        "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,"
        "`spec.tolerations` (only additions to existing tolerations),"
        "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously "
        "negative)\n"
    )
    assert '+ \tRestartPolicy: "Never",' in messages[0]


def test_update_needs_resource_version() -> None:
    old = _prepare(CM, {"metadata": {"name": "c"}})
    new = copy.deepcopy(old)
    messages = [c.message for c in validation.validate_update(CM, new, old)]
    assert messages == [
        'metadata.resourceVersion: Invalid value: "": must be specified for an update'
    ]


@pytest.mark.parametrize(
    ("causes", "expected"),
    [
        pytest.param(
            [field.required(field.Path("spec", "containers"))],
            'Pod "p" is invalid: spec.containers: Required value',
            id="one-cause-no-brackets",
        ),
        pytest.param(
            [
                field.required(field.Path("spec", "containers").index(0).child("name")),
                field.required(field.Path("spec", "containers").index(0).child("image")),
                field.required(field.Path("spec", "containers").index(0).child("image")),
            ],
            'Pod "p" is invalid: [spec.containers[0].name: Required value, '
            "spec.containers[0].image: Required value]",
            id="many-causes-bracketed-and-deduplicated",
        ),
    ],
)
def test_invalid_message(causes: list[field.Cause], expected: str) -> None:
    assert validation.invalid_message(POD, "p", causes) == expected


def test_invalid_status_shape() -> None:
    causes = validation.validate_create(DEPLOY, _prepare(DEPLOY, deployment(labels={"app": "x"})))
    status = validation.invalid_status(DEPLOY, "web", causes)
    assert status["code"] == 422
    assert status["reason"] == "Invalid"
    assert status["details"] == {
        "name": "web",
        "group": "apps",
        "kind": "Deployment",
        "causes": [
            {
                "reason": "FieldValueInvalid",
                "message": 'Invalid value: map[string]string{"app":"x"}: `selector` does not '
                "match template `labels`",
                "field": "spec.template.metadata.labels",
            }
        ],
    }
    assert status["message"].startswith('Deployment.apps "web" is invalid: spec.template')


@pytest.mark.parametrize(
    ("key", "obj", "expected"),
    [
        pytest.param(
            SECRET,
            {"metadata": {"name": "s"}, "data": {"tls.crt": "base64 encoded cert"}},
            'Secret in version "v1" cannot be handled as a Secret: illegal base64 data at input '
            "byte 6",
            id="secret-data-not-base64",
        ),
        pytest.param(SECRET, {"metadata": {"name": "s"}, "data": {"a": "YWJj"}}, None, id="ok"),
        pytest.param(
            POD,
            pod(containers=[container(resources={"limits": {"cpu": "lots"}})]),
            'Pod in version "v1" cannot be handled as a Pod: quantities must match the regular '
            "expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
            id="bad-quantity",
        ),
    ],
)
def test_decode_error(key: tuple[str, str], obj: Obj, expected: str | None) -> None:
    assert validation.decode_error(key, obj) == expected


def test_job_selector_is_generated_on_create() -> None:
    obj = _prepare(JOB, job())
    uid = obj["metadata"]["uid"]
    assert obj["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    assert obj["spec"]["template"]["metadata"]["labels"] == {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": "pi",
        "controller-uid": uid,
        "job-name": "pi",
    }
    assert validation.validate_create(JOB, obj) == []


def test_node_port_range_check() -> None:
    svc = _prepare(SVC, service(type="NodePort", ports=[{"port": 80, "nodePort": 80}]))
    from pyk8s.api.validation import service as service_validation

    assert [c.message for c in service_validation.check_node_port_range(svc)] == [
        "spec.ports[0].nodePort: Invalid value: 80: provided port is not in the valid range. "
        "The range of valid ports is 30000-32767"
    ]


@pytest.mark.parametrize(
    ("value", "prefix", "expected"),
    [
        pytest.param("web-", True, [], id="generate-name-trailing-dash-masked"),
        pytest.param("web-", False, [DNS_SUBDOMAIN_ERR], id="name-trailing-dash"),
        pytest.param("a" * 254, False, ["must be no more than 253 characters"], id="too-long"),
    ],
)
def test_name_is_dns_subdomain(value: str, prefix: bool, expected: list[str]) -> None:
    assert names.name_is_dns_subdomain(value, prefix) == expected


def test_generate_name_shape() -> None:
    import random

    name = names.generate_name("x" * 70, random.Random(1))
    assert len(name) == 63 and name.startswith("x" * 58)


@pytest.mark.parametrize(
    ("schedule", "expected"),
    [
        pytest.param("*/15 1-5 * JAN-MAR mon,fri", "", id="names-and-steps"),
        pytest.param("@every 1h30m", "", id="every"),
        pytest.param("@fortnightly", "unrecognized descriptor: @fortnightly", id="bad-descriptor"),
        pytest.param(
            "a * * * *",
            'failed to parse int from a: strconv.Atoi: parsing "a": invalid syntax',
            id="not-a-number",
        ),
        pytest.param(
            "5-1 * * * *", "beginning of range (5) beyond end of range (1): 5-1", id="range"
        ),
        pytest.param("* * * * 7", "end of range (7) above maximum (6): 7", id="sunday-as-7"),
        pytest.param("", "empty spec string", id="empty"),
    ],
)
def test_parse_schedule_error(schedule: str, expected: str) -> None:
    assert parse_schedule_error(schedule) == expected


@pytest.mark.parametrize(
    ("raw", "canonical"),
    [
        pytest.param("0.25", "250m", id="fraction-to-milli"),
        pytest.param("1000m", "1", id="milli-to-unit"),
        pytest.param("2000", "2k", id="thousands"),
        pytest.param("128Mi", "128Mi", id="binary"),
        pytest.param("1536Mi", "1536Mi", id="binary-not-divisible"),
        pytest.param("1Gi", "1Gi", id="gibibyte"),
        pytest.param(1, "1", id="json-number"),
        pytest.param("1e3", "1e3", id="exponent"),
        pytest.param("100u", "100u", id="micro"),
    ],
)
def test_quantity_canonical(raw: Any, canonical: str) -> None:
    assert str(parse_quantity(raw)) == canonical


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("plain", '"plain"', id="string"),
        pytest.param('quote"d\n', '"quote\\"d\\n"', id="escapes"),
        pytest.param({"b": "2", "a": "1"}, 'map[string]string{"a":"1", "b":"2"}', id="map-sorted"),
        pytest.param(["x", "y"], '[]string{"x", "y"}', id="slice"),
        pytest.param(None, "null", id="nil"),
        pytest.param(True, "true", id="bool"),
    ],
)
def test_go_value(value: Any, expected: str) -> None:
    assert field.go_value(value) == expected


def test_unknown_kinds_validate_to_nothing() -> None:
    assert validation.validate_create(("example.com", "widgets"), {"metadata": {}}) == []


# --- strategy steps (prepare_for_create / prepare_for_update) ----------------------------------


def test_put_keeps_status_and_bumps_generation_on_spec_change() -> None:
    stored = _prepare(DEPLOY, deployment())
    stored["status"] = {"replicas": 1, "observedGeneration": 1}
    assert stored["metadata"]["generation"] == 1
    same = copy.deepcopy(stored)
    del same["status"]
    same["metadata"]["generation"] = 99  # clients cannot set it
    validation.prepare_for_update(DEPLOY, same, stored)
    assert same["status"] == stored["status"]
    assert same["metadata"]["generation"] == 1
    scaled = copy.deepcopy(stored)
    scaled["spec"]["replicas"] = 3
    validation.prepare_for_update(DEPLOY, scaled, stored)
    assert scaled["metadata"]["generation"] == 2


def test_create_resets_status() -> None:
    obj = _prepare(DEPLOY, {**deployment(), "status": {"replicas": 9}})
    assert obj["status"] == {}
    svc = _prepare(SVC, {**service(clusterIP="10.96.0.10"), "status": {"x": 1}})
    assert svc["status"] == {"loadBalancer": {}}
    assert svc["spec"]["clusterIPs"] == ["10.96.0.10"]


@pytest.mark.parametrize(
    ("resources", "qos"),
    [
        pytest.param({}, "BestEffort", id="best-effort"),
        pytest.param({"requests": {"cpu": "100m"}}, "Burstable", id="burstable"),
        pytest.param({"limits": {"cpu": "1", "memory": "1Gi"}}, "Guaranteed", id="guaranteed"),
    ],
)
def test_pod_create_status(resources: Obj, qos: str) -> None:
    obj = _prepare(POD, pod(containers=[container(resources=resources)]))
    assert obj["status"] == {"phase": "Pending", "qosClass": qos}
    assert obj["metadata"]["generation"] == 1


def test_namespace_create_adds_kubernetes_finalizer() -> None:
    obj = _prepare(NS, {"metadata": {"name": "team"}})
    assert obj["spec"] == {"finalizers": ["kubernetes"]}
    assert obj["status"] == {"phase": "Active"}


def test_secret_string_data_is_merged_into_data() -> None:
    obj = _prepare(SECRET, {"metadata": {"name": "s"}, "stringData": {"user": "admin"}})
    assert obj["data"] == {"user": "YWRtaW4="}
    assert "stringData" not in obj


def test_daemonset_template_generation_annotation() -> None:
    ds = {**deployment(), "kind": "DaemonSet"}
    stored = _prepare(DS, ds)
    assert stored["metadata"]["annotations"] == {"deprecated.daemonset.template.generation": "1"}
    new = copy.deepcopy(stored)
    new["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:2"
    validation.prepare_for_update(DS, new, stored)
    assert new["metadata"]["annotations"]["deprecated.daemonset.template.generation"] == "2"
    assert new["metadata"]["generation"] == 2
