"""Envoy's ext_authz Check, asked by a client outside Rust (grpcio).

    python check.py PROTO_ROOT STUBS_DIR ADDR CASES_JSON

PROTO_ROOT is the `proto/` directory of the envoy-types crate (Envoy's
data-plane-api and what it imports); the stubs of external_auth.proto and
every file it imports are generated into STUBS_DIR with grpcio-tools. Each
case is {"method", "path", "host", "headers", "source"}; printed is one JSON
list with, per case, the gRPC status code of the check and the HTTP answer
it carries: {"code", "status", "headers", "removed", "body"}.
"""
import json
import os
import re
import sys

import grpc
import grpc_tools
from grpc_tools import protoc

ROOTS = ["data-plane-api", "googleapis", "protoc-gen-validate", "xds", "cel-spec",
         "opentelemetry-proto", "client_model", "ratelimit"]


def generate(proto_root, out):
    includes = [os.path.join(proto_root, d) for d in ROOTS]
    bundled = os.path.join(os.path.dirname(grpc_tools.__file__), "_proto")

    def find(name):
        for include in includes:
            path = os.path.join(include, name)
            if os.path.isfile(path):
                return path
        return None

    todo, files = ["envoy/service/auth/v3/external_auth.proto"], set()
    while todo:
        name = todo.pop()
        path = find(name)
        if name in files or path is None:
            continue  # google/protobuf/* come with grpcio-tools
        files.add(name)
        with open(path) as f:
            todo += re.findall(r'^import\s+(?:public\s+)?"([^"]+)";', f.read(), re.M)
    os.makedirs(out, exist_ok=True)
    args = ["protoc", f"-I{bundled}", *[f"-I{i}" for i in includes],
            f"--python_out={out}", f"--grpc_python_out={out}", *sorted(files)]
    if protoc.main(args) != 0:
        sys.exit("protoc failed on the ext_authz protos")


def main():
    proto_root, out, addr, cases = sys.argv[1], sys.argv[2], sys.argv[3], json.loads(sys.argv[4])
    generate(proto_root, out)
    sys.path.insert(0, out)
    from envoy.config.core.v3 import address_pb2
    from envoy.service.auth.v3 import attribute_context_pb2, external_auth_pb2, external_auth_pb2_grpc

    stub = external_auth_pb2_grpc.AuthorizationStub(grpc.insecure_channel(addr))
    results = []
    for case in cases:
        http = attribute_context_pb2.AttributeContext.HttpRequest(
            method=case["method"], path=case["path"], host=case["host"], headers=case["headers"])
        source = attribute_context_pb2.AttributeContext.Peer(
            address=address_pb2.Address(socket_address=address_pb2.SocketAddress(
                address=case["source"], port_value=40000)))
        request = external_auth_pb2.CheckRequest(attributes=attribute_context_pb2.AttributeContext(
            source=source, request=attribute_context_pb2.AttributeContext.Request(http=http)))
        answer = stub.Check(request, timeout=30)
        if answer.HasField("ok_response"):
            ok = answer.ok_response
            results.append({"code": answer.status.code, "status": 200,
                            "headers": {h.header.key: h.header.value for h in ok.headers},
                            "removed": list(ok.headers_to_remove), "body": ""})
        else:
            denied = answer.denied_response
            results.append({"code": answer.status.code, "status": denied.status.code,
                            "headers": {h.header.key: h.header.value for h in denied.headers},
                            "removed": [], "body": denied.body})
    print(json.dumps(results))


if __name__ == "__main__":
    main()
