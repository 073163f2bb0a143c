"""nft.Ruleset scripts: their shape (pure) and what they do to a real table (the kernel
keeps session-affinity entries across update scripts; stale objects go)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from pyk8s.proxy import nft


def ruleset(table: str = "t", *, with_b: bool = True, timeout: int = 60) -> nft.Ruleset:
    rs = nft.Ruleset("ip", table, comment="test")
    rs.chain("nat-output", hook="type nat hook output priority -100").add("jump services")
    rs.chain("services")
    rs.set("service-ips", kind="map", spec="type ipv4_addr . inet_proto . inet_service : verdict")
    rs.set("aff", spec=f"type ipv4_addr ; flags dynamic,timeout ; timeout {timeout}s")
    rs.chain("a").add("update @aff { ip saddr }")
    rs.element("service-ips", "10.96.0.1 . tcp . 80", "goto a")
    if with_b:
        rs.chain("b").add("goto a")
        rs.set("aff-b", spec="type ipv4_addr ; flags dynamic,timeout ; timeout 60s")
        rs.element("service-ips", "10.96.0.2 . tcp . 80", "goto b")
    rs.chain("services").add("ip daddr . meta l4proto . th dport vmap @service-ips")
    return rs


def test_replace_script_shape() -> None:
    text = ruleset().replace_script()
    assert text.splitlines()[:4] == [
        "add table ip t",
        "delete table ip t",
        'add table ip t { comment "test" ; }',
        "add chain ip t nat-output { type nat hook output priority -100 ; policy accept ; }",
    ]
    assert text.endswith(
        "add element ip t service-ips { 10.96.0.1 . tcp . 80 : goto a, "
        "10.96.0.2 . tcp . 80 : goto b }\n"
    )


def test_update_script_flushes_all_but_dynamic_sets_and_deletes_stale() -> None:
    text = ruleset(with_b=False).update_script(ruleset())
    out = text.splitlines()
    assert "delete table ip t" not in out
    assert "flush chain ip t a" in out
    assert "flush chain ip t b" in out  # stale: flushed before any chain is deleted
    assert "flush map ip t service-ips" in out
    assert not any(line.startswith("flush set ip t aff") for line in out)
    assert out[-2:] == ["delete chain ip t b", "delete set ip t aff-b"]
    assert out.index("flush chain ip t b") < out.index("add rule ip t a update @aff { ip saddr }")


def test_elements_keep_the_first_value_per_key() -> None:
    rs = ruleset(with_b=False)
    rs.element("service-ips", "10.96.0.1 . tcp . 80", "drop", "dup")
    assert (
        rs.sets["service-ips"].elements["10.96.0.1 . tcp . 80"] == "10.96.0.1 . tcp . 80 : goto a"
    )


def test_quote() -> None:
    assert nft.quote('say "hi"') == "\"say 'hi'\""


@pytest.fixture
def table() -> Iterator[str]:
    name = f"pyk8s-nfttest-{os.getpid()}"
    yield name
    subprocess.run(["nft", "delete", "table", "ip", name], capture_output=True)


def apply(script: str) -> None:
    cp = subprocess.run(["nft", "-f", "-"], input=script, capture_output=True, text=True)
    assert cp.returncode == 0, cp.stderr


def listing(table: str) -> str:
    return subprocess.run(
        ["nft", "list", "table", "ip", table], capture_output=True, text=True, check=True
    ).stdout


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k != "handle"}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def kernel_state(table: str) -> dict[str, Any]:
    """The table as the kernel has it, independent of creation order: chain → rules (in
    order), set/map → definition with sorted elements."""
    out = subprocess.run(
        ["nft", "-j", "list", "table", "ip", table], capture_output=True, text=True, check=True
    ).stdout
    state: dict[str, Any] = {}
    for obj in json.loads(out)["nftables"]:
        for kind in ("chain", "set", "map"):
            if kind in obj:
                body = _strip(obj[kind])
                if "elem" in body:
                    body["elem"] = sorted(body["elem"], key=json.dumps)
                state.setdefault(f"{kind} {body['name']}", body).update(body)
        if "rule" in obj:
            rule = _strip(obj["rule"])
            state.setdefault(f"rules {rule['chain']}", []).append(rule["expr"])
    return state


def test_update_keeps_affinity_entries_in_the_kernel(table: str) -> None:
    first = ruleset(table)
    apply(first.replace_script())
    apply(f"add element ip {table} aff {{ 10.244.9.9 }}\n")
    second = ruleset(table, with_b=False)
    apply(second.update_script(first))
    text = listing(table)
    assert "10.244.9.9" in text
    assert "chain b" not in text and "aff-b" not in text
    assert text.count("update @aff { ip saddr }") == 1  # flushed, not appended twice
    apply(second.replace_script())
    assert "10.244.9.9" not in listing(table)


def test_changed_set_definition_fails_update_and_replace_recovers(table: str) -> None:
    first = ruleset(table)
    apply(first.replace_script())
    changed = ruleset(table, timeout=120)
    cp = subprocess.run(
        ["nft", "-f", "-"], input=changed.update_script(first), capture_output=True, text=True
    )
    if cp.returncode == 0:  # some kernels accept it; then it must have taken effect
        assert "timeout 2m" in listing(table)
    apply(changed.replace_script())
    assert "timeout 2m" in listing(table)


def test_diff_script_shape() -> None:
    before, after = ruleset(), ruleset(with_b=False)
    after.chain("a").add("counter")
    after.element("service-ips", "10.96.0.3 . tcp . 80", "goto a")
    assert after.diff_script(before) == (
        "flush chain ip t a\n"
        "flush chain ip t b\n"
        "delete element ip t service-ips { 10.96.0.2 . tcp . 80 }\n"
        "add rule ip t a update @aff { ip saddr }\n"
        "add rule ip t a counter\n"
        "add element ip t service-ips { 10.96.0.3 . tcp . 80 : goto a }\n"
        "delete chain ip t b\n"
        "delete set ip t aff-b\n"
    )
    assert ruleset().diff_script(ruleset()) == ""
    assert ruleset(timeout=5).diff_script(ruleset()) is None  # a definition changed


def test_diff_script_reaches_the_same_kernel_state_as_replace(table: str) -> None:
    from proxy_objects import endpoint, endpoint_slice, node, service

    from pyk8s.proxy import rules
    from pyk8s.proxy.config import ProxyConfig

    cfg = ProxyConfig(table=table)
    n = node("node-a")
    web = service("web", "10.96.0.10", type="NodePort")
    web["spec"]["ports"][0]["nodePort"] = 30080
    sticky = service("sticky", "10.96.0.20", sessionAffinity="ClientIP")
    states = [
        ([web], [endpoint_slice("web", [endpoint("10.244.1.2")])]),
        ([web], [endpoint_slice("web", [endpoint("10.244.1.2"), endpoint("10.244.1.3")])]),
        ([web, sticky], [endpoint_slice("web", [endpoint("10.244.1.3")])]),
        (
            [web, sticky],
            [
                endpoint_slice("web", [endpoint("10.244.1.3")]),
                endpoint_slice("sticky", [endpoint("10.244.1.4")]),
            ],
        ),
        ([sticky], []),
        ([], []),
    ]
    previous = rules.build(*states[0], n, cfg)
    apply(previous.replace_script())
    for services, slices in states[1:]:
        current = rules.build(services, slices, n, cfg)
        script = current.diff_script(previous)
        assert script is not None
        apply(script)
        via_diff = kernel_state(table)
        apply(current.replace_script())
        assert via_diff == kernel_state(table)
        previous = current
