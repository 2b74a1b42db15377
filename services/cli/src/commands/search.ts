// `sm-nas search`: the embedded default. Starts the local mesh (nats-server with JetStream in the
// data directory and every service as its own process on loopback; with --nats, the services join
// that nats-server instead), asks the profiler which hardware class it measures, creates a
// two-stage search on the built-in dataset at the demo fidelity, shows its progress from
// WatchSearch, and writes the results folder (the controller's results.ts).
import { resolve } from 'node:path';
import { common, controller, profiler, trainer } from '@sm-nas/proto';
import { stageName } from '@sm-nas/arch/wire';
// The subpath, not the package root: the root loads tfjs, which every CLI start would pay for.
import { demoFidelityFor, demoFinalTrainingFor } from '@sm-nas/trainer/demo-fidelity';
import { createChannel, createClient } from 'nice-grpc';
import type { SEARCH_OPTIONS } from '../command-table.js';
import type { OptionValues } from '../options.js';
import { UsageError } from '../usage-error.js';
import { compareBaselines, winnerWeights, writeResults } from '@sm-nas/controller/results';
import type { LocalMesh } from '../mesh.js';

export type SearchOptions = OptionValues<typeof SEARCH_OPTIONS>;

const { BackboneKind, HeadKind, NeckKind, RpnKind } = common;

// The demo fidelity lives in one place, @sm-nas/trainer (calibrated by bench/fidelity.ts), one for a
// GPU class and one for a CPU class. The wire's built-in dataset takes its seed, split sizes and image
// side; the preset stays the trainer's default.

/** The hand-made baselines that are in the demo's space (the front must beat them): RetinaNet-ResNet-18-FPN (P3-P6) and
 * Faster R-CNN-ResNet-18-FPN (P2-P6, as torchvision's), both at 512x512. */
export function demoBaselines(): common.Architecture[] {
  const backbone = { kind: BackboneKind.BACKBONE_KIND_RESNET18, baseChannels: 64, blocks: '11-21-21-21' };
  const input = { widthPx: 512, heightPx: 512 };
  return [
    {
      backbone,
      neck: { kind: NeckKind.NECK_KIND_FPN, startLevel: 3, endLevel: 6, channels: 256, extraSource: 0 },
      rpn: RpnKind.RPN_KIND_NONE,
      head: { kind: HeadKind.HEAD_KIND_RETINANET, stages: 0, channels: 256 },
      input,
    },
    {
      backbone,
      neck: { kind: NeckKind.NECK_KIND_FPN, startLevel: 2, endLevel: 6, channels: 256, extraSource: 0 },
      rpn: RpnKind.RPN_KIND_RPN,
      head: { kind: HeadKind.HEAD_KIND_FASTER_RCNN, stages: 0, channels: 256 },
      input,
    },
  ];
}

export function demoSearchSpec(options: SearchOptions, hardwareClass: string): controller.SearchSpec {
  const demo = demoFidelityFor(hardwareClass);
  const { seed, trainImages, valImages, imageSizePx } = demo.dataset;
  const dataset = { seed, trainImages, valImages, imageSizePx };
  return controller.SearchSpec.fromPartial({
    displayName: 'sm-nas search (demo)',
    hardwareClass,
    dataset: { source: { $case: 'builtin', value: { ...dataset, trainImages: options.images ?? dataset.trainImages } } },
    schedule: {
      batchSize: options.batch ?? demo.batchSize,
      learningRate: demo.learningRate,
      weightDecay: demo.weightDecay,
      lrSchedule: demo.lrSchedule === 'cosine' ? trainer.LrSchedule.LR_SCHEDULE_COSINE : trainer.LrSchedule.LR_SCHEDULE_CONSTANT,
      seed: 0,
    },
    // --steps: a step budget instead of the demo's seconds (a quick look, or a load-independent run).
    fidelity: {
      inputScale: demo.inputScale,
      widthMultiplier: demo.widthMultiplier,
      maxSteps: options.steps ?? demo.maxSteps,
      maxSeconds: options.steps !== undefined ? 0 : demo.maxSeconds,
    },
    finalTraining: options['final-seconds'] > 0
      ? { enabled: true, fidelity: { ...demoFinalTrainingFor(hardwareClass), maxSeconds: options['final-seconds'] }, schedule: undefined }
      : undefined,
    algorithm: { name: options.algorithm },
    structural: { maxCandidates: options.structural, populationSize: 8, paretoModels: 3 },
    modular: { maxCandidates: options.modular, populationSize: 6 },
    budget: { maxWallSeconds: options.minutes * 60 },
    parallelism: options.parallelism,
    // A few seconds of timing per structural candidate (a two-stage detector at 512x512 takes ~1-2 s
    // an inference on 2 CPU cores): enough to order them, within the demo's 20 minutes.
    profiling: { targetCoefficientOfVariation: 0.05, maxSeconds: 6, iterationsPerRound: 5 },
    seed: options.seed,
    // What trains and profiles in seconds on 2 CPU cores: the smallest input, the four lighter
    // backbones, FPN necks (a C4 two-stage head runs res5 per RoI: ~3 s a demo step); every head
    // (one-stage RetinaNet and FCOS, Faster R-CNN, Cascade R-CNN).
    constraints: {
      necks: [NeckKind.NECK_KIND_FPN],
      // No FPN from P1: 256x256 maps at 512x512, the slowest candidates to time and train here.
      fpnStartLevels: [2, 3, 4, 5],
      heads: [HeadKind.HEAD_KIND_RETINANET, HeadKind.HEAD_KIND_FCOS, HeadKind.HEAD_KIND_FASTER_RCNN, HeadKind.HEAD_KIND_CASCADE_RCNN],
      backbones: [BackboneKind.BACKBONE_KIND_RESNET18, BackboneKind.BACKBONE_KIND_RESNET34, BackboneKind.BACKBONE_KIND_RESNET50, BackboneKind.BACKBONE_KIND_MOBILENET_V2],
      inputs: [{ widthPx: 512, heightPx: 512 }],
    },
    initialArchitectures: demoBaselines(),
  });
}

function bar(done: number, total: number, width = 20): string {
  const filled = total > 0 ? Math.min(width, Math.round((done / total) * width)) : 0;
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total}`;
}


export async function searchCommand(options: SearchOptions, log: (line: string) => void): Promise<string> {
  const started = Date.now();
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s`;
  let mesh: LocalMesh | undefined;
  let controllerAddr = options.addr ?? process.env.CONTROLLER_ADDR;
  let hardwareClass = process.env.HARDWARE_CLASS ?? '';
  const channels = [];
  try {
    if (!controllerAddr) {
      log(`${elapsed()}  starting the local mesh in ${resolve(options['data-dir'])}${options.nats ? ` on ${options.nats}` : ''} ...`);
      // The mesh modules load only when a mesh starts.
      const { startLocalMesh } = await import('../mesh.js');
      mesh = await startLocalMesh({ dataDir: options['data-dir'], log: 'ignore', ...(options.nats ? { natsUrl: options.nats } : {}) });
      log(`${elapsed()}  mesh up: nats ${mesh.natsUrl}; ${Object.entries(mesh.addresses).map(([s, a]) => `${s} ${a}`).join(', ')}`);
      controllerAddr = mesh.addresses.controller;
      if (!controllerAddr) throw new Error('this checkout has no services/controller');
      if (!mesh.addresses.profiler) throw new Error('this checkout has no services/profiler: the structural stage needs latency measurements');
      const pc = createChannel(mesh.addresses.profiler);
      channels.push(pc);
      const { hardware } = await createClient(profiler.ProfilerServiceDefinition, pc).describe({});
      hardwareClass = hardware?.hardwareClass ?? '';
    }
    if (!hardwareClass) throw new UsageError('set HARDWARE_CLASS to the target hardware class when using --addr');
    const channel = createChannel(controllerAddr);
    channels.push(channel);
    const client = createClient(controller.ControllerServiceDefinition, channel);
    const spec = demoSearchSpec(options, hardwareClass);
    const { search } = await client.createSearch({ spec, searchId: '' });
    const searchId = search!.searchId;
    const f = spec.fidelity!;
    log(`${elapsed()}  search ${searchId}: ${spec.structural!.maxCandidates} structural + ${spec.modular!.maxCandidates} modular candidates, ${spec.algorithm!.name}, on ${hardwareClass}`);
    const budget = (x: common.Fidelity) =>
      x.maxSteps > 0 && x.maxSeconds > 0 ? `${x.maxSteps} steps (or what fits in ${x.maxSeconds} s)` : x.maxSteps > 0 ? `${x.maxSteps} steps` : `${x.maxSeconds} s`;
    log(`${elapsed()}  each candidate trains ${budget(f)} at input scale ${f.inputScale}, width ${f.widthMultiplier} on the built-in dataset`);
    const ft = spec.finalTraining?.fidelity;
    if (ft) log(`${elapsed()}  then the final Pareto models are retrained for ${budget(ft)} each at input scale ${ft.inputScale}, width ${ft.widthMultiplier}: those weights are the winners`);

    const done = new Map<common.SearchStage, number>();
    let final: controller.Search | undefined;
    for await (const event of client.watchSearch({ searchId, afterSequence: 0 })) {
      const e = event.event;
      if (e?.$case === 'candidateUpdated') {
        const c = e.value;
        if (c.finalTraining) {
          const ft = c.finalTraining;
          const ok = ft.status === trainer.TrainStatus.TRAIN_STATUS_SUCCEEDED;
          log(`${elapsed()}  final      ${c.candidateId} ${c.architecture?.canonical}  ${ok ? `AP ${ft.accuracy?.ap.toFixed(3)} AP50 ${ft.accuracy?.ap50.toFixed(3)} at width ${ft.fidelity?.widthMultiplier ?? 1}` : `retraining failed: ${ft.failureReason}`}`);
          continue;
        }
        // One line per candidate, when it has ended (proposed and evaluating are on the way there).
        if (c.state === controller.CandidateState.CANDIDATE_STATE_PROPOSED || c.state === controller.CandidateState.CANDIDATE_STATE_EVALUATING) continue;
        done.set(c.stage, (done.get(c.stage) ?? 0) + 1);
        const max = c.stage === common.SearchStage.SEARCH_STAGE_MODULAR ? spec.modular!.maxCandidates : spec.structural!.maxCandidates;
        const m = c.metrics;
        const what =
          c.state === controller.CandidateState.CANDIDATE_STATE_SUCCEEDED
            ? `AP ${m?.accuracy?.ap.toFixed(3)} AP50 ${m?.accuracy?.ap50.toFixed(3)}${m?.latency ? `  ${m.latency.latencyMsP50.toFixed(1)} ms` : ''}  ${(Number(m?.flopsMultiplyAdds ?? 0) / 1e9).toFixed(1)} GMACs`
            : `failed: ${c.failureReason}`;
        log(`${elapsed()}  ${stageName(c.stage).padEnd(10)} ${bar(done.get(c.stage)!, max)}  ${c.candidateId} ${c.architecture?.canonical}  ${what}`);
      } else if (e?.$case === 'searchUpdated') {
        final = e.value;
        const state = controller.searchStateToJSON(e.value.state).replace('SEARCH_STATE_', '').toLowerCase();
        log(`${elapsed()}  search ${state}, stage ${stageName(e.value.currentStage)}${e.value.failureReason ? `: ${e.value.failureReason}` : ''}`);
      }
    }
    const searchNow = (await client.getSearch({ searchId })).search ?? final!;
    const { candidates } = await client.listCandidates({ searchId, stage: 0, pageSize: 1000, pageToken: '' });
    const structural = (await client.getParetoFront({ searchId, stage: common.SearchStage.SEARCH_STAGE_STRUCTURAL })).front!;
    const modularRan = candidates.some((c) => c.stage === common.SearchStage.SEARCH_STAGE_MODULAR);
    const modular = modularRan ? (await client.getParetoFront({ searchId, stage: common.SearchStage.SEARCH_STAGE_MODULAR })).front! : undefined;
    const out = resolve(options.out ?? resolve(options['data-dir'], 'results', searchId));
    await writeResults(out, { search: searchNow, candidates, structural, modular, final: modular ?? structural });
    const trained = candidates.filter((c) => c.state === controller.CandidateState.CANDIDATE_STATE_SUCCEEDED).length;
    const state = controller.searchStateToJSON(searchNow.state).replace('SEARCH_STATE_', '').toLowerCase();
    return [
      `search ${searchId} ${state} in ${((Date.now() - started) / 60_000).toFixed(1)} min: ${trained} candidates trained, ${candidates.length - trained} failed`,
      `final Pareto front (${modular ? 'modular' : 'structural'}):`,
      ...(modular ?? structural).candidates.map((c) => {
        const w = winnerWeights(c);
        const weights = w?.from === 'final_training' ? `weights retrained at width ${w.fidelity?.widthMultiplier ?? 1} (AP ${c.finalTraining?.accuracy?.ap.toFixed(3)})` : "the proxy's weights";
        return `  ${c.architecture?.canonical}  AP ${c.metrics?.accuracy?.ap.toFixed(3)}  ${(Number(c.metrics?.flopsMultiplyAdds ?? 0) / 1e9).toFixed(1)} GMACs${c.metrics?.latency ? `  ${c.metrics.latency.latencyMsP50.toFixed(1)} ms` : ''}; ${weights}`;
      }),
      ...compareBaselines(candidates, structural).map((b) =>
        `baseline ${b.canonical} (AP ${b.ap.toFixed(3)}, ${b.latencyMs.toFixed(1)} ms): ` +
        (b.dominatedBy.length
          ? `dominated by ${b.dominatedBy.map((d) => `${d.canonical} (AP ${d.ap.toFixed(3)}, ${d.latencyMs.toFixed(1)} ms)`).join('; ')}`
          : b.onFront ? 'on the structural front itself' : 'not dominated')),
      `results: ${out} (report.html, pareto.json, candidates.jsonl, winners/)`,
    ].join('\n');
  } finally {
    for (const c of channels) c.close();
    await mesh?.stop();
  }
}
