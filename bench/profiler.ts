// The profiler's benchmark, in one run (under the exclusive CPU lock):
//   1. repeatability: the CV of p50 across 5 repeated Profile calls (gRPC, bypass_cache) of one
//      detector (goal < 2%);
//   2. agreement with PyTorch: our CPU latency (the profiler's timing protocol on what libs/detector
//      builds) and PyTorch's (bench/profiler_pytorch.py, same protocol, same threads) for the seven
//      backbones in classification form at 224x224 and three RetinaNet detectors; Spearman's rho
//      over the ten (goal >= 0.9) and our time / PyTorch's on each (goal <= 1.0x).
//
//   flock -x /tmp/sm-nas-cpu.lock pnpm exec tsx bench/profiler.ts
//   BENCH_SECONDS (per measurement, default 8), BENCH_ITERATIONS (per round, default 10),
//   BENCH_DET_SIZE (detector input, default 320), BENCH_CLS_SIZE (classification input, default
//   224), BENCH_PYTHON (default /usr/bin/python3).
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { BACKBONE_KINDS, parseCanonical, standardBackbone, type Architecture } from '../libs/arch/src/index.js';
import { buildGraph } from '../libs/arch/src/graph/index.js';
import { architectureToWire } from '../libs/arch/src/wire.js';
import { profiler } from '../libs/proto/src/index.js';
import { buildTimedModel, DEFAULT_MEASURE, measure, spearman, startProfiler, summarize, type ModelForm } from '../services/profiler/src/index.js';
import { initBackend, describeBackend } from '../libs/tfjs-runtime/src/index.js';
import { createChannel, createClient } from 'nice-grpc';
import { ensureTorchPeer, PYTHON, torchEnv } from './torch-peer.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 8);
const iterations = Number(process.env.BENCH_ITERATIONS ?? 10);
const detSize = Number(process.env.BENCH_DET_SIZE ?? 320);
ensureTorchPeer();
const python = PYTHON;
const settings = { ...DEFAULT_MEASURE, maxSeconds: seconds, iterationsPerRound: iterations };

const info = await initBackend({ log: null });
console.log(describeBackend(info));

// ---- 1. repeatability through the service ----------------------------------------------------
const repeatArch = `resnet18:64:11-21-21-21/fpn:3-6:256/none/retinanet:256/${detSize}x${detSize}`;
const running = await startProfiler({ host: '127.0.0.1', port: 0, logger: { info: () => {}, error: console.error } });
const channel = createChannel(running.server.address);
const client = createClient(profiler.ProfilerServiceDefinition, channel);
const hardwareClass = running.profiler.hardware.hardwareClass;
const p50s: number[] = [];
for (let i = 0; i < 5; i++) {
  const r = await client.profile({
    architecture: architectureToWire(parseCanonical(repeatArch)),
    hardwareClass,
    input: undefined,
    batchSize: 1,
    settings: { targetCoefficientOfVariation: 0, maxSeconds: seconds, iterationsPerRound: iterations },
    bypassCache: true,
  });
  p50s.push(r.latency!.latencyMsP50);
  const stop = r.stopReason === profiler.StopReason.STOP_REASON_TARGET_CV_REACHED ? 'cv target' : 'time limit';
  console.log(`profile ${i + 1}/5: p50 ${r.latency!.latencyMsP50.toFixed(1)} ms, round CV ${(100 * r.latency!.coefficientOfVariation).toFixed(1)}%, ${r.latency!.warmupIterations} warm-up, ${stop}; modules ${r.latency!.modules.map((m) => `${m.name} ${m.latencyMsMean.toFixed(1)}`).join(', ')}`);
}
channel.close();
await running.stop();
const repeat = summarize(p50s);

// ---- 2. ours vs PyTorch ------------------------------------------------------------------------
interface Model {
  name: string;
  form: ModelForm;
  arch: Architecture;
  torch: Record<string, unknown>;
}

const CLASSIFICATION_SIZE = Number(process.env.BENCH_CLS_SIZE ?? 224);
const models: Model[] = BACKBONE_KINDS.map((kind) => ({
  name: kind,
  form: 'classification' as const,
  // The classification form reads only the backbone and the input (neck and head are not built).
  arch: {
    backbone: standardBackbone(kind),
    neck: { kind: 'fpn', startLevel: 3, endLevel: 6, channels: 256 },
    rpn: 'none',
    head: { kind: 'retinanet', stages: 0, channels: 256 },
    input: { widthPx: CLASSIFICATION_SIZE, heightPx: CLASSIFICATION_SIZE },
  },
  torch: { kind: 'classification', torchvision: kind, size: [CLASSIFICATION_SIZE, CLASSIFICATION_SIZE] },
}));

for (const text of [
  `resnet18:64:11-21-21-21/fpn:3-6:256/none/retinanet:256/${detSize}x${detSize}`,
  `resnet50:64:111-2111-211111-211/fpn:3-6:256/none/retinanet:256/${detSize}x${detSize}`,
  `mobilenet_v2:64:21-211-2111211-2112/fpn:3-6:128/none/retinanet:128/${detSize}x${detSize}`,
]) {
  const arch = parseCanonical(text);
  if (arch.neck.kind !== 'fpn') throw new Error('fpn detectors only');
  const graph = buildGraph(arch, { form: 'detection', numClasses: 80, norm: 'batch_norm' });
  const laterals = graph.nodes.filter((n) => n.module === 'neck' && n.op === 'conv2d' && n.path.endsWith('.lateral'));
  models.push({
    name: `retinanet-${arch.backbone.kind}-${detSize}`,
    form: 'detection',
    arch,
    torch: {
      kind: 'detection',
      backbone: arch.backbone.kind,
      size: [detSize, detSize],
      levels: laterals.map((_, i) => arch.neck.kind === 'fpn' ? arch.neck.startLevel + i : 0),
      in_channels: laterals.map((n) => (n.op === 'conv2d' ? n.inChannels : 0)),
      extra_p6: arch.neck.endLevel === 6,
      fpn_channels: arch.neck.channels,
      head_channels: arch.head.channels,
      num_classes: 80,
      // The repeatability measurement's peer: PyTorch builds and times the same detector 5 times.
      ...(text === repeatArch ? { repeat: 5 } : {}),
    },
  });
}

const ours = new Map<string, { p50: number; cv: number }>();
for (const m of models) {
  const timed = buildTimedModel(m.arch, { form: m.form, batch: 1 });
  try {
    const r = await measure(() => timed.run(), settings);
    ours.set(m.name, { p50: r.summary.p50, cv: r.summary.cv });
    console.log(`tfjs ${m.name}: ${r.summary.p50.toFixed(1)} ms (CV ${(100 * r.summary.cv).toFixed(1)}%, ${r.stopReason})`);
  } finally {
    timed.dispose();
  }
}

const cfg = { threads: Math.max(1, info.threads), iterations, max_seconds: seconds, models: models.map((m) => ({ name: m.name, ...m.torch })) };
const script = fileURLToPath(new URL('./profiler_pytorch.py', import.meta.url));
const run = spawnSync(python, [script, JSON.stringify(cfg)], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20, env: torchEnv(cfg.threads) });
if (run.status !== 0) throw new Error(`${python} ${script} failed (${run.status})`);
const torch = JSON.parse(run.stdout.trim().split('\n').pop()!) as { torch: string; threads: number; ms: Record<string, number>; cv: Record<string, number>; repeats: Record<string, number[]> };
const torchRepeats = Object.values(torch.repeats).find((r) => r.length > 1) ?? [];

// ---- report ------------------------------------------------------------------------------------
const names = models.map((m) => m.name);
const rho = spearman(names.map((n) => ours.get(n)!.p50), names.map((n) => torch.ms[n]!));
console.log(`\n${hardwareClass}: tfjs ${info.version}${info.native ? ` + ${info.native}` : ''} (${info.threads} threads) vs PyTorch ${torch.torch} (${torch.threads} threads); p50 per measurement (warm-up until settled, rounds of ${iterations} until CV < 2% or ${seconds} s)\n`);
console.log(`repeatability: p50 of ${repeatArch} over 5 profiles: ${p50s.map((x) => x.toFixed(1)).join(', ')} ms; CV of p50 ${(100 * repeat.cv).toFixed(2)}% (goal < 2%)`);
console.log(`  peer, same machine and run: PyTorch's p50 of the same detector built and timed 5 times: ${torchRepeats.map((x) => x.toFixed(1)).join(', ')} ms; CV ${(100 * summarize(torchRepeats).cv).toFixed(2)}%\n`);
console.log('| model | input | tfjs p50 ms | PyTorch p50 ms | tfjs / PyTorch |');
console.log('|---|---|---|---|---|');
for (const m of models) {
  const o = ours.get(m.name)!.p50;
  const t = torch.ms[m.name]!;
  console.log(`| ${m.name}${m.form === 'classification' ? ' (classification)' : ''} | ${m.arch.input.widthPx}x${m.arch.input.heightPx} | ${o.toFixed(1)} | ${t.toFixed(1)} | ${(o / t).toFixed(2)} |`);
}
console.log(`\nSpearman rho (tfjs vs PyTorch latency ranks, ${names.length} networks): ${rho.toFixed(3)} (goal >= 0.9)`);
process.exit(0);
