#!/usr/bin/python3
"""A suggestion service written in Python, generated from proto/ alone (tests/python/gen.sh).

Shows that the search algorithm is swappable across languages: the controller reaches it through
the same SuggestionClient as the TypeScript services. Algorithm "py_front_mutation": sample until
`initial_samples` candidates of the stage exist, then mutate members of the Pareto front of the
evaluated ones (accuracy up; latency down in the structural stage, multiply-adds down in the
modular stage, where the stage seeds count as evaluated) through the searchspace service,
skipping architectures already in the history.

Usage: suggestion_server.py GEN_DIR   (binds 127.0.0.1 on a free port and prints "PORT <n>")
"""
import random
import sys
from concurrent import futures

sys.path.insert(0, sys.argv[1])

import grpc  # noqa: E402
from nas.common.v1 import architecture_pb2 as common  # noqa: E402
from nas.controller.v1 import controller_pb2 as controller  # noqa: E402
from nas.searchspace.v1 import searchspace_pb2, searchspace_pb2_grpc  # noqa: E402
from nas.suggestion.v1 import suggestion_pb2, suggestion_pb2_grpc  # noqa: E402

NAME = "py_front_mutation"
DEFAULT_INITIAL_SAMPLES = 4


class BadArgument(Exception):
    pass


def initial_samples(spec):
    """Settings check; the error names the field, as the contract asks."""
    if spec.algorithm.name != NAME:
        raise BadArgument(f'spec.algorithm.name: this service runs "{NAME}", not "{spec.algorithm.name}"')
    for key in sorted(spec.algorithm.settings):
        if key != "initial_samples":
            raise BadArgument(f"spec.algorithm.settings.{key}: unknown setting for {NAME} (known: initial_samples)")
    raw = spec.algorithm.settings.get("initial_samples", str(DEFAULT_INITIAL_SAMPLES))
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise BadArgument(f"spec.algorithm.settings.initial_samples: expected an integer from 1 to 1000, got {raw!r}")
    return int(raw)


def objectives(candidate, stage):
    m = candidate.metrics
    cost = m.latency.latency_ms_p50 if stage == common.SEARCH_STAGE_STRUCTURAL else m.flops_multiply_adds
    return (-m.accuracy.ap, cost)


def dominates(a, b):
    return all(x <= y for x, y in zip(a, b)) and any(x < y for x, y in zip(a, b))


class Suggestion(suggestion_pb2_grpc.SuggestionServiceServicer):
    def ValidateSettings(self, request, context):
        try:
            initial_samples(request.spec)
        except BadArgument as err:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(err))
        return suggestion_pb2.ValidateSettingsResponse()

    def GetSuggestions(self, request, context):
        try:
            wanted_initial = initial_samples(request.spec)
            if request.count < 1:
                raise BadArgument("count: must be at least 1")
            if not request.searchspace_address:
                raise BadArgument("searchspace_address: required")
        except BadArgument as err:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(err))
        stage = request.stage
        rng = random.Random(request.seed)
        # Modular stage: the structural models it refines are individuals too (they have AP and FLOPs).
        seed_ids = {s.id for s in request.stage_seeds}
        in_stage = [c for c in request.history if c.stage == stage or c.architecture.id in seed_ids]
        evaluated = [c for c in in_stage if c.state == controller.CANDIDATE_STATE_SUCCEEDED]
        front = [c for c in evaluated
                 if not any(dominates(objectives(o, stage), objectives(c, stage)) for o in evaluated)]
        seen = {c.architecture.id for c in request.history} | {s.id for s in request.stage_seeds}
        out = []

        def add(described, parents, origin):
            if described.id in seen or len(out) >= request.count:
                return
            seen.add(described.id)
            out.append(suggestion_pb2.Suggestion(
                architecture=described.architecture, parent_ids=parents, origin=origin))

        with grpc.insecure_channel(request.searchspace_address) as channel:
            space = searchspace_pb2_grpc.SearchSpaceServiceStub(channel)
            bases = list(request.stage_seeds) or [None]
            # No evaluated candidate yet: all samples; otherwise complete the initial population.
            samples = request.count if not front else min(request.count, max(0, wanted_initial - len(in_stage)))
            for attempt in range(20):
                if len(out) >= samples:
                    break
                base = bases[attempt % len(bases)]
                sampled = space.Sample(searchspace_pb2.SampleRequest(
                    stage=stage, count=2 * request.count, seed=rng.randrange(2**32),
                    base=base.architecture if base else None), timeout=10)
                for a in sampled.architectures:
                    if len(out) >= samples:
                        break
                    add(a, [], "sample")
            tries = 0
            while front and len(out) < request.count and tries < 10 * request.count:
                tries += 1
                parent = rng.choice(front)
                child = space.Mutate(searchspace_pb2.MutateRequest(
                    architecture=parent.architecture.architecture, stage=stage,
                    seed=rng.randrange(2**32)), timeout=10).architecture
                add(child, [parent.candidate_id], "mutate")
        return suggestion_pb2.GetSuggestionsResponse(suggestions=out)


def main():
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    suggestion_pb2_grpc.add_SuggestionServiceServicer_to_server(Suggestion(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    print(f"PORT {port}", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    main()
