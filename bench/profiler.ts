// The profiler's benchmark, in one run (under the exclusive CPU lock):
//   1. repeatability: the CV of p50 across 5 repeated Profile calls (gRPC, bypass_cache) of one
//      detector (goal < 2%); after each, in the same window, PyTorch building and timing the same
//      detector (the peer) and a fixed JavaScript loop with nothing of ours in it (the machine's
//      floor), each timed with the same protocol for as long;
//   2. agreement with PyTorch: our CPU latency (the profiler's timing protocol on what libs/detector
//      builds) and PyTorch's (bench/profiler_pytorch.py, same protocol, same threads) for the seven
//      backbones in classification form at 224x224 and three RetinaNet detectors; Spearman's rho
//      over the ten (goal >= 0.9) and our time / PyTorch's on each (goal <= 1.0x). Each model is
//      timed ours, PyTorch, PyTorch, ours (ABBA: a drift of the machine's speed that is linear over
//      the four windows cancels in the ratio of the sums).
//
//   flock -x /tmp/sm-nas-cpu.lock pnpm exec tsx bench/profiler.ts
//   BENCH_SECONDS (per measurement, default 8), BENCH_REPEAT_SECONDS (per measurement in part 1,
//   default the profiler's own time limit, what a Profile call gets when it sets none: the
//   repeatability users get), BENCH_ITERATIONS (per round, default 10),
//   BENCH_DET_SIZE (detector input, default 320), BENCH_CLS_SIZE (classification input, default
//   224), BENCH_PYTHON (default /usr/bin/python3).
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { BACKBONE_KINDS, parseCanonical, standardBackbone, type Architecture } from '../libs/arch/src/index.js';
import { buildGraph } from '../libs/arch/src/graph/index.js';
import { architectureToWire } from '../libs/arch/src/wire.js';
import { profiler } from '../libs/proto/src/index.js';
import { buildTimedModel, DEFAULT_MEASURE, measure, percentile, spearman, startProfiler, summarize, type ModelForm } from '../services/profiler/src/index.js';
import { initBackend, describeBackend } from '../libs/tfjs-runtime/src/index.js';
import { createChannel, createClient } from 'nice-grpc';
import { ensureTorchPeer, PYTHON, torchEnv } from './torch-peer.js';

const seconds = Number(process.env.BENCH_SECONDS ?? 8);
const repeatSeconds = Number(process.env.BENCH_REPEAT_SECONDS ?? DEFAULT_MEASURE.maxSeconds);
const iterations = Number(process.env.BENCH_ITERATIONS ?? 10);
const detSize = Number(process.env.BENCH_DET_SIZE ?? 320);
ensureTorchPeer();
const settings = { ...DEFAULT_MEASURE, maxSeconds: seconds, iterationsPerRound: iterations };

const info = await initBackend({ log: null });
console.log(describeBackend(info));

// ---- the networks ------------------------------------------------------------------------------
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
    neck: { kind: 'fpn', startLevel: 3, endLevel: 6, channels: 256, extraSource: 'c5' },
    rpn: 'none',
    head: { kind: 'retinanet', stages: 0, channels: 256 },
    input: { widthPx: CLASSIFICATION_SIZE, heightPx: CLASSIFICATION_SIZE },
  },
  torch: { kind: 'classification', torchvision: kind, size: [CLASSIFICATION_SIZE, CLASSIFICATION_SIZE] },
}));

// The first detector is also the repeatability measurement's.
const repeatArch = `resnet18:64:11-21-21-21/fpn:3-6:256/none/retinanet:256/${detSize}x${detSize}`;
for (const text of [
  repeatArch,
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
    },
  });
}

// ---- the PyTorch peer, a worker answering one measurement per line -----------------------------
const threads = Math.max(1, info.threads);
const script = fileURLToPath(new URL('./profiler_pytorch.py', import.meta.url));
const worker = spawn(PYTHON, [script, JSON.stringify({ threads, iterations, max_seconds: seconds, models: models.map((m) => ({ name: m.name, ...m.torch })) })], {
  stdio: ['pipe', 'pipe', 'inherit'],
  env: torchEnv(threads),
});
const workerExit = new Promise<never>((_, reject) => worker.on('exit', (code) => reject(new Error(`${PYTHON} ${script} exited (${code})`))));
const lines = createInterface({ input: worker.stdout })[Symbol.asyncIterator]();
const nextLine = async () => {
  const line = await Promise.race([lines.next(), workerExit]);
  if (line.done) throw new Error(`${PYTHON} ${script} closed its output`);
  return JSON.parse(line.value) as Record<string, unknown>;
};
const torchInfo = (await nextLine()) as { torch: string; threads: number };
// Without maxSeconds the worker times for its argument's max_seconds (`seconds`).
const torchP50 = async (name: string, rebuild = false, maxSeconds?: number) => {
  worker.stdin.write(`${JSON.stringify({ name, rebuild, max_seconds: maxSeconds })}\n`);
  return ((await nextLine()) as { p50: number }).p50;
};

// ---- 1. repeatability through the service, with the peer and the floor in the same windows ------
const repeatName = models.find((m) => m.form === 'detection')!.name;
const running = await startProfiler({ host: '127.0.0.1', port: 0, logger: { info: () => {}, error: console.error } });
const channel = createChannel(running.server.address);
const client = createClient(profiler.ProfilerServiceDefinition, channel);
const hardwareClass = running.profiler.hardware.hardwareClass;
// The floor: a fixed arithmetic loop on one core. What its p50 does between windows, the machine
// does to every workload's.
const reference = new Float64Array(4096).map((_, i) => 1e-3 * i);
const referenceWork = () => {
  let acc = 1;
  for (let r = 0; r < 2000; r++) for (let i = 0; i < reference.length; i++) acc = acc * 0.999 + reference[i]!;
  return acc;
};
const p50s: number[] = [];
const torchRepeats: number[] = [];
const floorP50s: number[] = [];
for (let i = 0; i < 5; i++) {
  const r = await client.profile({
    architecture: architectureToWire(parseCanonical(repeatArch)),
    hardwareClass,
    input: undefined,
    batchSize: 1,
    settings: { targetCoefficientOfVariation: 0, maxSeconds: repeatSeconds, iterationsPerRound: iterations },
    bypassCache: true,
  });
  p50s.push(r.latency!.latencyMsP50);
  const stop = r.stopReason === profiler.StopReason.STOP_REASON_TARGET_CV_REACHED ? 'cv target' : 'time limit';
  console.log(`profile ${i + 1}/5: p50 ${r.latency!.latencyMsP50.toFixed(1)} ms, round CV ${(100 * r.latency!.coefficientOfVariation).toFixed(1)}%, ${r.latency!.warmupIterations} warm-up, ${stop}; modules ${r.latency!.modules.map((m) => `${m.name} ${m.latencyMsMean.toFixed(1)}`).join(', ')}`);
  torchRepeats.push(await torchP50(repeatName, true, repeatSeconds));
  const floor = await measure(referenceWork, { ...settings, maxSeconds: repeatSeconds, targetCv: 0 });
  floorP50s.push(floor.summary.p50);
  console.log(`  PyTorch, rebuilt: p50 ${torchRepeats[i]!.toFixed(1)} ms; floor: fixed loop p50 ${floor.summary.p50.toFixed(2)} ms, p5 ${percentile([...floor.times].sort((a, b) => a - b), 5).toFixed(2)} ms`);
}
channel.close();
await running.stop();

// ---- 2. ours vs PyTorch, ABBA per model ----------------------------------------------------------
const ours = new Map<string, number[]>();
const theirs = new Map<string, number[]>();
for (const m of models) {
  const timed = buildTimedModel(m.arch, { form: m.form, batch: 1 });
  try {
    const ourP50 = async () => (await measure(() => timed.run(), settings)).summary.p50;
    const a1 = await ourP50();
    const b1 = await torchP50(m.name);
    const b2 = await torchP50(m.name);
    const a2 = await ourP50();
    ours.set(m.name, [a1, a2]);
    theirs.set(m.name, [b1, b2]);
    console.log(`${m.name}: tfjs ${a1.toFixed(1)}, ${a2.toFixed(1)} ms; PyTorch ${b1.toFixed(1)}, ${b2.toFixed(1)} ms`);
  } finally {
    timed.dispose();
  }
}
worker.stdin.end();

// ---- report ------------------------------------------------------------------------------------
const mean = (xs: readonly number[]) => summarize(xs).mean;
const names = models.map((m) => m.name);
const rho = spearman(names.map((n) => mean(ours.get(n)!)), names.map((n) => mean(theirs.get(n)!)));
console.log(`\n${hardwareClass}: tfjs ${info.version}${info.native ? ` + ${info.native}` : ''} (${info.threads} threads) vs PyTorch ${torchInfo.torch} (${torchInfo.threads} threads); p50 per measurement (warm-up until settled, rounds of ${iterations} until CV < 2% or ${seconds} s; ${repeatSeconds} s in the repeatability part)\n`);
console.log(`repeatability: p50 of ${repeatArch} over 5 profiles of ${repeatSeconds} s: ${p50s.map((x) => x.toFixed(1)).join(', ')} ms; CV of p50 ${(100 * summarize(p50s).cv).toFixed(2)}% (goal < 2%)`);
console.log(`  peer, same windows: PyTorch's p50 of the same detector, built and timed after each profile: ${torchRepeats.map((x) => x.toFixed(1)).join(', ')} ms; CV ${(100 * summarize(torchRepeats).cv).toFixed(2)}%`);
console.log(`  floor, same windows: a fixed JavaScript loop's p50: ${floorP50s.map((x) => x.toFixed(2)).join(', ')} ms; CV ${(100 * summarize(floorP50s).cv).toFixed(2)}%\n`);
console.log('| model | input | tfjs p50 ms (A1, A2) | PyTorch p50 ms (B1, B2) | tfjs / PyTorch |');
console.log('|---|---|---|---|---|');
for (const m of models) {
  const o = ours.get(m.name)!;
  const t = theirs.get(m.name)!;
  console.log(`| ${m.name}${m.form === 'classification' ? ' (classification)' : ''} | ${m.arch.input.widthPx}x${m.arch.input.heightPx} | ${o.map((x) => x.toFixed(1)).join(', ')} | ${t.map((x) => x.toFixed(1)).join(', ')} | ${(mean(o) / mean(t)).toFixed(2)} |`);
}
console.log(`\nSpearman rho (tfjs vs PyTorch latency ranks, ${names.length} networks, mean of the two p50s each): ${rho.toFixed(3)} (goal >= 0.9)`);
process.exit(0);
