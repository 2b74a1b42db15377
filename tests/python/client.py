#!/usr/bin/python3
"""A Python client of the sm-nas searchspace and flops services, generated from proto/.

Shows that the .proto files are the whole contract: nothing here is TypeScript. Prints one JSON
object with what it received, for the cross-language test (tests/python-client.test.ts) to compare
with what a TypeScript client gets.

Usage: client.py GEN_DIR SEARCHSPACE_ADDR FLOPS_ADDR
"""
import hashlib
import json
import sys

sys.path.insert(0, sys.argv[1])

import grpc  # noqa: E402
from google.protobuf import json_format  # noqa: E402
from nas.common.v1 import architecture_pb2 as common  # noqa: E402
from nas.flops.v1 import flops_pb2, flops_pb2_grpc  # noqa: E402
from nas.searchspace.v1 import searchspace_pb2, searchspace_pb2_grpc  # noqa: E402


def main() -> None:
    searchspace_addr, flops_addr = sys.argv[2], sys.argv[3]
    out = {}
    with grpc.insecure_channel(searchspace_addr) as channel:
        space = searchspace_pb2_grpc.SearchSpaceServiceStub(channel)
        sampled = space.Sample(searchspace_pb2.SampleRequest(
            stage=common.SEARCH_STAGE_STRUCTURAL, count=5, seed=42), timeout=10)
        out["sampled"] = [
            {
                "id": a.id,
                "canonical": a.canonical,
                # The id is documented as "a" + sha256(canonical)[:16]: recompute it here.
                "id_recomputed": "a" + hashlib.sha256(a.canonical.encode()).hexdigest()[:16],
            }
            for a in sampled.architectures
        ]
        # uint64 seeds past 2^53, up to the top of the range: every value must decode on the server.
        out["sampled_by_seed"] = {
            str(seed): [a.canonical for a in space.Sample(searchspace_pb2.SampleRequest(
                stage=common.SEARCH_STAGE_STRUCTURAL, count=5, seed=seed), timeout=10).architectures]
            for seed in (2**53, 2**63, 2**64 - 1)
        }
        try:
            space.Validate(searchspace_pb2.ValidateRequest(architecture=common.Architecture(
                backbone=common.Backbone(kind=common.BACKBONE_KIND_RESNET18, blocks="11-21-21"),
                neck=common.Neck(kind=common.NECK_KIND_C4),
                rpn=common.RPN_KIND_NONE,
                head=common.Head(kind=common.HEAD_KIND_RETINANET),
                input=common.InputSize(width_px=512, height_px=512))), timeout=10)
            out["invalid"] = None
        except grpc.RpcError as err:
            out["invalid"] = {"code": err.code().name, "details": err.details()}

    resnet50 = common.Architecture(
        backbone=common.Backbone(kind=common.BACKBONE_KIND_RESNET50),
        neck=common.Neck(kind=common.NECK_KIND_FPN, start_level=2, end_level=6),
        rpn=common.RPN_KIND_RPN,
        head=common.Head(kind=common.HEAD_KIND_FASTER_RCNN),
        input=common.InputSize(width_px=1333, height_px=800))
    with grpc.insecure_channel(flops_addr) as channel:
        counter = flops_pb2_grpc.FlopsServiceStub(channel)
        classification = counter.Count(flops_pb2.CountRequest(
            architecture=resnet50, form=flops_pb2.MODEL_FORM_CLASSIFICATION,
            input=common.InputSize(width_px=224, height_px=224)), timeout=10)
        detection = counter.Count(flops_pb2.CountRequest(architecture=resnet50), timeout=10)
        out["resnet50_classification"] = {
            "flops_multiply_adds": classification.flops_multiply_adds,
            "params": classification.params,
        }
        out["faster_rcnn_r50_fpn"] = json_format.MessageToDict(
            detection, preserving_proto_field_name=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
