#!/usr/bin/python3
"""Optuna's NSGAIISampler on the structural table of bench/suggestion-hypervolume.ts.

Reads a JSON problem on stdin: {"genes": [7, 16, 9, 4], "objectives": [[f1, f2], ...] (both
minimised, in the table's mixed-radix index order: input fastest, then rpn/head, neck, backbone),
"budget": N, "population": P, "seeds": [..]}. For each seed, runs a study with one categorical
parameter per structural gene until N distinct architectures are evaluated (a repeated proposal is
answered from the table and does not count, so Optuna is not charged for its duplicates; at most
20 N trials). Prints {"runs": [{"seed": s, "indices": [...], "trials": T}, ...]} on stdout.
"""
import json
import sys

import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)


def main() -> None:
    problem = json.load(sys.stdin)
    genes = problem["genes"]
    objectives = problem["objectives"]
    budget = problem["budget"]
    runs = []
    for seed in problem["seeds"]:
        evaluated = []
        seen = set()

        def objective(trial):
            values = [trial.suggest_categorical(f"g{k}", list(range(n))) for k, n in enumerate(genes)]
            index = 0
            for value, n in zip(values, genes):
                index = index * n + value
            if index not in seen:
                seen.add(index)
                evaluated.append(index)
            return tuple(objectives[index])

        sampler = optuna.samplers.NSGAIISampler(population_size=problem["population"], seed=seed)
        study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)
        trials = 0
        while len(evaluated) < budget and trials < 20 * budget:
            study.optimize(objective, n_trials=1)
            trials += 1
        runs.append({"seed": seed, "indices": evaluated[:budget], "trials": trials})
    print(json.dumps({"runs": runs, "optuna": optuna.__version__}))


if __name__ == "__main__":
    main()
