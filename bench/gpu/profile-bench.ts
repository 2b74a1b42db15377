// The profiler's own protocol on this machine's webgpu adapter (services/profiler's timed model and
// measurement loop) over the ten networks of the GPU inference goal: the seven backbones in
// classification form at 224x224 and RetinaNet, Faster R-CNN and Cascade R-CNN on a ResNet-50 FPN
// at 1344x800, batch 1 (a detector's time is `predict`: network, decoding, NMS, outputs read back).
// The first detector is profiled five times, each on a freshly built model, as bench/profiler.ts does
// on CPU: the CV of the five p50s is the profiler's repeatability. Each detector also gets one
// per-module breakdown, with GPU kernel times from timestamp queries.
//
//   pnpm exec tsx bench/gpu/profile-bench.ts [OUT.json]      (bundled by bench/gpu/pack.sh too)
//   BENCH_PROFILE_SECONDS (default 5) per profile; BENCH_GPU_SIZE=small|full as webgpu-bench.ts;
//   BENCH_PROFILE_NETWORKS: a comma list of keys (bench/gpu/networks.ts) to profile only those.
import '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { writeFileSync } from 'node:fs';
import { parseArchitecture, standardBackbone, type Architecture } from '../../libs/arch/src/index.js';
import { initBackend } from '../../libs/tfjs-runtime/src/index.js';
import { describeHardware, readHardwareSources } from '../../services/profiler/src/hardware.js';
import { DEFAULT_MEASURE, measure } from '../../services/profiler/src/measure.js';
import { buildTimedModel, moduleTimes, type ModelForm } from '../../services/profiler/src/model.js';
import { summarize } from '../../services/profiler/src/stats.js';
import { inferenceNetworks } from './networks.js';

const outFile = process.argv[2];
const started = performance.now();
const info = await initBackend({ backend: 'webgpu' });
const full = (process.env['BENCH_GPU_SIZE'] ?? (info.adapter?.software ? 'small' : 'full')) === 'full';
const hardwareClass = describeHardware(readHardwareSources(info)).hardwareClass;
const seconds = Number(process.env['BENCH_PROFILE_SECONDS'] ?? (full ? 5 : 1));
const settings = { ...DEFAULT_MEASURE, maxSeconds: seconds, iterationsPerRound: full ? 10 : 5, maxWarmup: full ? 30 : 3 };
const repeats = full ? 5 : 2;

const rows: Record<string, unknown>[] = [];
const save = () => outFile && writeFileSync(outFile, JSON.stringify({ hardwareClass, backend: info, settings, rows, seconds: (performance.now() - started) / 1000 }, null, 2));
const only = process.env['BENCH_PROFILE_NETWORKS']?.split(',').filter(Boolean);
for (const net of inferenceNetworks(full).filter((n) => !only || only.includes(n.key))) {
  const arch: Architecture = net.form === 'classification'
    // The classification form reads only the backbone and the input.
    ? { ...parseArchitecture(`resnet18:64:11-21-21-21/fpn:3-6:256/none/retinanet:256/${net.size}`), backbone: standardBackbone(net.backbone!) }
    : parseArchitecture(net.arch!);
  const p50s: number[] = [];
  let modules: Awaited<ReturnType<typeof moduleTimes>> = [];
  try {
    for (let i = 0; i < (net.repeat ? repeats : 1); i++) {
      const model = buildTimedModel(arch, { form: net.form as ModelForm, batch: 1 });
      try {
        const m = await measure(() => model.run(), settings);
        p50s.push(m.summary.p50);
        if (i === 0 && net.form === 'detection') modules = await moduleTimes(model, 5, m.summary.mean);
      } finally {
        model.dispose();
      }
    }
  } catch (error) {
    rows.push({ key: net.key, name: net.name, error: error instanceof Error ? error.message : String(error) });
    console.log(`${net.name}: ${String(error)}`);
    save();
    continue;
  }
  const s = summarize(p50s);
  const row = { key: net.key, name: net.name, p50s, meanP50: s.mean, cvOfP50: p50s.length > 1 ? s.cv : undefined, modules };
  rows.push(row);
  console.log(`${row.name}: p50s ${p50s.map((x) => x.toFixed(2)).join(', ')} ms${row.cvOfP50 === undefined ? '' : `; CV of p50 ${(100 * row.cvOfP50).toFixed(2)}%`}` +
    (modules.length ? `; modules ${modules.map((m) => `${m.name} ${m.ms.toFixed(2)} (gpu ${m.gpuMs.toFixed(2)})`).join(', ')}` : ''));
  save();
}
save();
console.log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
process.exit(0);
