#!/usr/bin/python3
"""A suggestion service that answers badly on purpose, generated from proto/ alone (tests/python/gen.sh).

A third party's service is not ours to trust: the controller must check whatever comes back. Each
GetSuggestions answer ("py_hostile") leads with what must never be trained, then a few good ones:

- an invalid architecture (a block string that is no block string),
- a suggestion with no architecture at all,
- one outside the stage's space (structural: non-standard base channels, a modular gene;
  modular: a structure none of the stage seeds has),
- a duplicate of a candidate already in the history, and the same new one twice,
- more suggestions than `count` asked for;

then valid samples of the stage from the searchspace service. Every answer is logged to stderr as
one "SUGGESTED <stage> <kind> <canonical or ->" line per suggestion, so the test can tell which
kind each trained candidate was.

Usage: hostile_suggestion_server.py GEN_DIR   (binds 127.0.0.1 on a free port and prints "PORT <n>")
"""
import random
import sys
from concurrent import futures

sys.path.insert(0, sys.argv[1])

import grpc  # noqa: E402
from nas.common.v1 import architecture_pb2 as common  # noqa: E402
from nas.searchspace.v1 import searchspace_pb2, searchspace_pb2_grpc  # noqa: E402
from nas.suggestion.v1 import suggestion_pb2, suggestion_pb2_grpc  # noqa: E402

NAME = "py_hostile"


class Hostile(suggestion_pb2_grpc.SuggestionServiceServicer):
    def ValidateSettings(self, request, context):
        if request.spec.algorithm.name != NAME:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f'spec.algorithm.name: this service runs "{NAME}"')
        return suggestion_pb2.ValidateSettingsResponse()

    def GetSuggestions(self, request, context):
        stage = request.stage
        rng = random.Random(request.seed)
        out = []

        def add(architecture, kind, origin="sample", parents=()):
            out.append(suggestion_pb2.Suggestion(architecture=architecture, parent_ids=list(parents), origin=origin))
            print(f"SUGGESTED {stage} {kind} {describe(space, architecture)}", file=sys.stderr, flush=True)

        with grpc.insecure_channel(request.searchspace_address) as channel:
            space = searchspace_pb2_grpc.SearchSpaceServiceStub(channel)
            bases = list(request.stage_seeds) or [None]
            good = []
            for base in bases:
                sampled = space.Sample(searchspace_pb2.SampleRequest(
                    stage=stage, count=request.count + 4, seed=rng.randrange(2**64),
                    base=base.architecture if base else None), timeout=10)
                good.extend(sampled.architectures)
            history = {c.architecture.id for c in request.history}
            good = [g for g in good if g.id not in history]

            broken = common.Architecture()
            broken.CopyFrom(good[0].architecture)
            broken.backbone.blocks = "12x-9"
            add(broken, "invalid")
            add(None, "missing")
            if stage == common.SEARCH_STAGE_STRUCTURAL:
                # Base channels 48: a modular gene, outside the structural space.
                modular_gene = common.Architecture()
                modular_gene.CopyFrom(good[0].architecture)
                modular_gene.backbone.base_channels = 48
                add(modular_gene, "out_of_stage")
            else:
                # A structure none of the seeds has (their neck levels changed: no constraint repair
                # undoes that): the modular stage refines the seeds' structures only.
                seed_keys = {structure(s.architecture) for s in request.stage_seeds}
                for start, end in [(3, 5), (3, 6), (4, 6), (2, 5), (3, 4)]:
                    foreign = common.Architecture()
                    foreign.CopyFrom(request.stage_seeds[0].architecture)
                    foreign.neck.kind = common.NECK_KIND_FPN
                    foreign.neck.start_level, foreign.neck.end_level = start, end
                    foreign.neck.channels = foreign.neck.channels or 256
                    if structure(foreign) not in seed_keys:
                        break
                add(foreign, "out_of_stage")
            if request.history:
                add(request.history[0].architecture.architecture, "duplicate_of_history")
            add(good[1].architecture, "good")
            add(good[1].architecture, "duplicate_in_answer")
            # Then valid ones, well past `count`.
            for g in good[2:request.count + 4]:
                add(g.architecture, "good")
        return suggestion_pb2.GetSuggestionsResponse(suggestions=out)


def structure(a):
    neck = f"fpn:{a.neck.start_level}-{a.neck.end_level}" if a.neck.kind == common.NECK_KIND_FPN else "c4"
    return (a.backbone.kind, neck, a.rpn, a.head.kind, a.head.stages, a.input.width_px, a.input.height_px)


def describe(space, architecture):
    if architecture is None:
        return "-"
    try:
        return space.Validate(searchspace_pb2.ValidateRequest(architecture=architecture), timeout=10).architecture.canonical
    except grpc.RpcError:
        return "-"


def main():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    suggestion_pb2_grpc.add_SuggestionServiceServicer_to_server(Hostile(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(f"PORT {port}", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
