"""Merging an apply configuration onto the live object (upstream's ``typed.Merge``).

``merge(live, config, shape)`` gives the object the configuration asks for, field by field:

* scalars, atomic lists and atomic maps take the configuration's value whole, an explicit
  null included (the caller drops nulls once everything else is decided);
* granular maps keep the live keys the configuration does not mention and merge the
  others; a null or empty configuration value for a struct keeps the live struct;
* list-type maps and sets merge item by item (items named as in ``typed.item_element``).
  Live items the configuration does not mention stay; mentioned ones are merged and come
  out in the configuration's order; live-only items keep their place relative to the
  shared item before them. Live duplicates of a key the configuration mentions collapse
  into the configuration's item;
* a configuration with two items of one key is refused (``typed.validate`` reports it
  before merging is tried).

Neither input is modified; the result shares nothing with them.
"""

from __future__ import annotations

import copy

from pyk8s.api.fieldmanager.fieldpath import PathElement
from pyk8s.api.fieldmanager.shapes import Shape
from pyk8s.api.fieldmanager.typed import ItemError, item_element
from pyk8s.api.fieldmanager.values import JSON, MISSING, Missing

__all__ = ["merge"]

Value = JSON | Missing


def merge(live: Value, config: Value, shape: Shape) -> Value:
    """``config`` merged onto ``live``; MISSING only when both are."""
    if live is MISSING and config is MISSING:
        return MISSING
    if config is MISSING:
        return copy.deepcopy(live)
    if live is MISSING:
        return copy.deepcopy(config)
    kind = shape.kind_of(config)
    if kind == "map":
        live_map = live if isinstance(live, dict) else None
        config_map = config if isinstance(config, dict) else None
        if shape.map_atomic or (not live_map and not config_map):
            return copy.deepcopy(config)
        return _merge_maps(live_map or {}, config_map or {}, shape)
    if kind == "list":
        live_list = live if isinstance(live, list) else None
        config_list = config if isinstance(config, list) else None
        if not shape.associative or (not live_list and not config_list):
            return copy.deepcopy(config)
        return _merge_items(live_list or [], config_list or [], shape)
    return copy.deepcopy(config)


def _merge_maps(live: dict[str, JSON], config: dict[str, JSON], shape: Shape) -> Value:
    out: dict[str, JSON] = {}
    for key in {**live, **config}:
        merged = merge(live.get(key, MISSING), config.get(key, MISSING), shape.field(key))
        if merged is not MISSING:
            out[key] = merged
    return out if out else MISSING


def _named(items: list[JSON], shape: Shape) -> list[tuple[PathElement, JSON]]:
    out = []
    for item in items:
        try:
            out.append((item_element(item, shape), item))
        except ItemError:
            continue  # refused by validation before merging is tried
    return out


def _merge_items(live: list[JSON], config: list[JSON], shape: Shape) -> Value:
    item_shape = shape.items()
    theirs = _named(config, shape)
    wanted = dict(theirs)
    mine = _named(live, shape)
    # a live item by key; a duplicated key merges as a null, so the configuration replaces it
    current: dict[PathElement, JSON] = {}
    for pe, item in mine:
        current[pe] = None if pe in current else item
    shared_positions = [i for i, (pe, _) in enumerate(theirs) if pe in current]

    def next_shared(from_position: int) -> PathElement | None:
        for i in shared_positions:
            if i >= from_position:
                return theirs[i][0]
        return None

    out: list[JSON] = []
    done: set[PathElement] = set()
    li = ci = 0
    while li < len(mine) or ci < len(theirs):
        if li < len(mine) and ci < len(theirs):
            pe = mine[li][0]
            if pe == theirs[ci][0]:
                done.add(pe)
                out.append(merge(current[pe], wanted[pe], item_shape))
                li, ci = li + 1, ci + 1
                continue
            if pe in wanted and pe != next_shared(ci):
                li += 1  # a shared item the configuration puts later: placed when reached
                continue
        if li < len(mine):
            pe, item = mine[li]
            if pe not in wanted:
                out.append(copy.deepcopy(item))
                li += 1
                continue
            if pe in done:
                li += 1
        if ci < len(theirs):
            pe = theirs[ci][0]
            done.add(pe)
            out.append(merge(current.get(pe, MISSING), wanted[pe], item_shape))
            ci += 1
    return [item for item in out if item is not MISSING] or MISSING
