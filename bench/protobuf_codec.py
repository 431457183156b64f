"""Protobuf codec: our hand-written reader/writer against the ``protobuf`` package (upb).

Run with ``python -m bench.protobuf_codec``. Both sides start from the same
field tables (``orchestrator/api/protobuf/tables``): for upb, a
``FileDescriptorProto`` is built from them at run time and
``message_factory`` makes the classes, so no ``.proto`` file or generated code
is involved. Both must produce the JSON dict the API server handles, so the
upb side parses (or serialises) in C and then walks the message in Python
(``ListFields``), applying the same zero-value rules and shapes. It prints,
per object, microseconds per decode and per encode for each side and the
ratio upb / hand (above 1: hand code faster).
"""

from __future__ import annotations

import argparse
import base64
import functools
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from google.protobuf import descriptor_pb2, message_factory

from orchestrator.api.protobuf import decode_object, encode_object
from orchestrator.api.protobuf.descriptors import Message, load_messages, message_for
from orchestrator.api.protobuf.envelope import MAGIC
from orchestrator.api.protobuf.shapes import SHAPES

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "orchestrator" / "api" / "protobuf"))

from pb_samples import SAMPLES  # noqa: E402

FDP = descriptor_pb2.FieldDescriptorProto
_TYPES = {
    "string": FDP.TYPE_STRING,
    "bytes": FDP.TYPE_BYTES,
    "int32": FDP.TYPE_INT32,
    "int64": FDP.TYPE_INT64,
    "bool": FDP.TYPE_BOOL,
    "double": FDP.TYPE_DOUBLE,
}


def _ident(name: str) -> str:
    return re.sub(r"\W", "_", name) or "_"


def _proto_name(qualified: str) -> str:
    return qualified.replace(".", "_")


def build_classes() -> dict[str, Any]:
    """A message class per table message, from a descriptor built here."""
    messages = load_messages()
    file = descriptor_pb2.FileDescriptorProto(name="k8s_tables.proto", package="k8s")
    file.syntax = "proto2"
    for msg in messages.values():
        m = file.message_type.add(name=_proto_name(msg.name))
        for f in msg.fields:
            fd = m.field.add(name=_ident(f.name or f"inline{f.number}"), number=f.number)
            if f.kind == "map":
                entry = m.nested_type.add(name=f"E{f.number}")
                entry.options.map_entry = True
                entry.field.add(name="key", number=1, type=FDP.TYPE_STRING,
                                label=FDP.LABEL_OPTIONAL)  # fmt: skip
                value = entry.field.add(name="value", number=2, label=FDP.LABEL_OPTIONAL)
                if f.value_kind == "message":
                    value.type = FDP.TYPE_MESSAGE
                    value.type_name = f".k8s.{_proto_name(f.message.name)}"  # type: ignore[union-attr]
                else:
                    value.type = _TYPES[f.value_kind]
                fd.label = FDP.LABEL_REPEATED
                fd.type = FDP.TYPE_MESSAGE
                fd.type_name = f".k8s.{m.name}.E{f.number}"
                continue
            fd.label = FDP.LABEL_REPEATED if f.repeated else FDP.LABEL_OPTIONAL
            if f.kind == "message":
                fd.type = FDP.TYPE_MESSAGE
                fd.type_name = f".k8s.{_proto_name(f.message.name)}"  # type: ignore[union-attr]
            else:
                fd.type = _TYPES[f.kind]
    classes = message_factory.GetMessages([file])
    return {name: classes[f"k8s.{_proto_name(name)}"] for name in messages}


def upb_to_json(m: Any, msg: Message) -> Any:
    """The JSON value of a parsed upb message, by the same rules as our decoder."""
    out: dict[str, Any] = {}
    raw = msg.shaped
    by_number = msg.by_number
    for fd, value in m.ListFields():
        f = by_number[fd.number]
        if f.kind == "map":
            if f.value_kind == "message":
                out[f.name] = {k: upb_to_json(v, f.message) for k, v in value.items()}  # type: ignore[arg-type]
            elif f.value_kind == "bytes":
                out[f.name] = {k: base64.b64encode(v).decode() for k, v in value.items()}
            else:
                out[f.name] = dict(value)
            continue
        if f.kind == "message":
            if f.repeated:
                out[f.name] = [upb_to_json(v, f.message) for v in value]  # type: ignore[arg-type]
                continue
            value = upb_to_json(value, f.message)  # type: ignore[arg-type]
        elif f.kind == "bytes" and not raw:
            value = [base64.b64encode(v).decode() for v in value] if f.repeated else (
                base64.b64encode(value).decode())  # fmt: skip
        elif f.repeated:
            value = list(value)
        if f.inline:
            out.update(value)
        elif value is None:
            if not f.pointer:
                out[f.name] = None
        elif raw or value or f.pointer or f.always or f.repeated:
            out[f.name] = value
    if msg.shaped:
        return SHAPES[msg.name][0](out)
    if msg.list_of:
        return out.get("items", [])
    return out


def json_to_upb(m: Any, msg: Message, value: Any) -> None:
    """Fill upb message ``m`` from a JSON value, by the same rules as our encoder."""
    if msg.shaped:
        value = SHAPES[msg.name][1](value)
    elif msg.list_of:
        value = {"items": value}
    for f in msg.fields:
        name = _ident(f.name or f"inline{f.number}")
        if f.inline:
            json_to_upb(getattr(m, name), f.message, value)  # type: ignore[arg-type]
            continue
        item = value.get(f.name)
        if item is None:
            continue
        target = getattr(m, name)
        if f.kind == "map":
            for k, v in item.items():
                if f.value_kind == "message":
                    json_to_upb(target[k], f.message, v)  # type: ignore[arg-type]
                elif f.value_kind == "bytes":
                    target[k] = base64.b64decode(v)
                else:
                    target[k] = v
        elif f.kind == "message":
            if f.repeated:
                for v in item:
                    json_to_upb(target.add(), f.message, v)  # type: ignore[arg-type]
            else:
                target.SetInParent()
                json_to_upb(target, f.message, item)  # type: ignore[arg-type]
        elif f.kind == "bytes" and isinstance(item, str):
            setattr(m, name, base64.b64decode(item))
        elif f.repeated:
            target.extend(item)
        else:
            setattr(m, name, item)


class Upb:
    def __init__(self) -> None:
        self.classes = build_classes()
        self.unknown = self.classes["runtime.Unknown"]

    def decode(self, data: bytes) -> dict[str, Any]:
        env = self.unknown.FromString(data[4:])
        api_version, kind = env.typeMeta.apiVersion, env.typeMeta.kind
        msg = message_for(api_version, kind)
        assert msg is not None
        obj = self.classes[msg.name].FromString(env.raw)
        return {"kind": kind, "apiVersion": api_version, **upb_to_json(obj, msg)}

    def encode(self, obj: dict[str, Any]) -> bytes:
        msg = message_for(obj["apiVersion"], obj["kind"])
        assert msg is not None
        m = self.classes[msg.name]()
        json_to_upb(m, msg, obj)
        env = self.unknown()
        env.typeMeta.apiVersion, env.typeMeta.kind = obj["apiVersion"], obj["kind"]
        env.raw = m.SerializeToString()
        env.contentEncoding = env.contentType = ""
        return MAGIC + env.SerializeToString()


def per_call_us(fn: Callable[[], object], seconds: float) -> float:
    """Median over 5 rounds of microseconds per call."""
    rounds = []
    for _ in range(5):
        n, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds / 5:
            for _ in range(20):
                fn()
            n += 20
        rounds.append(elapsed / n * 1e6)
    return statistics.median(rounds)


KUBECTL_DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "d1", "namespace": "default", "labels": {"app": "d1"}},
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "d1"}},
        "template": {
            "metadata": {"labels": {"app": "d1"}},
            "spec": {"containers": [{"name": "x", "image": "x", "ports": [{"containerPort": 80}]}]},
        },
    },
}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=1.0, help="time per figure")
    args = p.parse_args(argv)
    upb = Upb()
    objects = {
        "ConfigMap (kubectl create)": {
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "cm1", "namespace": "default"}, "data": {"a": "b"}},
        "Deployment (kubectl create)": KUBECTL_DEPLOYMENT,
        "Pod (full, stored)": SAMPLES["Pod"],
        "CRD (schema)": SAMPLES["CustomResourceDefinition"],
    }  # fmt: skip
    print(f"{'object':30} {'bytes':>6} {'dec hand':>9} {'dec upb':>9} {'ratio':>6}"
          f" {'enc hand':>9} {'enc upb':>9} {'ratio':>6}")  # fmt: skip
    for name, obj in objects.items():
        data = encode_object(obj)
        assert upb.decode(data) == decode_object(data), name
        assert decode_object(upb.encode(obj)) == decode_object(data), name
        dh = per_call_us(functools.partial(decode_object, data), args.seconds)
        du = per_call_us(functools.partial(upb.decode, data), args.seconds)
        eh = per_call_us(functools.partial(encode_object, obj), args.seconds)
        eu = per_call_us(functools.partial(upb.encode, obj), args.seconds)
        print(f"{name:30} {len(data):6} {dh:8.1f}u {du:8.1f}u {du / dh:6.2f}"
              f" {eh:8.1f}u {eu:8.1f}u {eu / eh:6.2f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
