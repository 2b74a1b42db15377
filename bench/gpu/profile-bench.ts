// The profiler's own protocol on this machine's webgpu adapter: services/profiler's timed model
// (detector `predict`: network, decoding, NMS, outputs read back) and its measurement loop, five
// profiles per detector, each on a freshly built model, as bench/profiler.ts does on CPU: the CV of
// the five p50s is the profiler's repeatability. Then one per-module breakdown, with the GPU kernel
// times from timestamp queries.
//
//   pnpm exec tsx bench/gpu/profile-bench.ts [OUT.json]      (bundled by bench/gpu/pack.sh too)
//   BENCH_PROFILE_SECONDS (default 6) per profile; BENCH_GPU_SIZE=small|full as webgpu-bench.ts.
import '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-core/dist/register_all_gradients';
import { writeFileSync } from 'node:fs';
import { parseArchitecture } from '../../libs/arch/src/index.js';
import { initBackend } from '../../libs/tfjs-runtime/src/index.js';
import { describeHardware, readHardwareSources } from '../../services/profiler/src/hardware.js';
import { DEFAULT_MEASURE, measure } from '../../services/profiler/src/measure.js';
import { buildTimedModel, moduleTimes } from '../../services/profiler/src/model.js';
import { summarize } from '../../services/profiler/src/stats.js';

const outFile = process.argv[2];
const info = await initBackend({ backend: 'webgpu' });
const full = (process.env['BENCH_GPU_SIZE'] ?? (info.adapter?.software ? 'small' : 'full')) === 'full';
const hardwareClass = describeHardware(readHardwareSources(info)).hardwareClass;
const seconds = Number(process.env['BENCH_PROFILE_SECONDS'] ?? (full ? 6 : 2));
const settings = { ...DEFAULT_MEASURE, maxSeconds: seconds, iterationsPerRound: full ? 10 : 3, maxWarmup: full ? 30 : 3 };
const [big, small] = full ? ['1344x800', '512x512'] : ['128x128', '64x64'];
const nets = [
  { name: 'RetinaNet-R50-FPN', arch: `resnet50:64:111-2111-211111-211/fpn:3-6:256/none/retinanet:256/${big}` },
  { name: 'Faster R-CNN-R50-FPN', arch: `resnet50:64:111-2111-211111-211/fpn:2-6:256/rpn/faster_rcnn:256/${big}` },
  { name: 'RetinaNet-R18-FPN', arch: `resnet18:64:11-21-21-21/fpn:3-6:256/none/retinanet:256/${small}` },
];
const rows: Record<string, unknown>[] = [];
const save = () => outFile && writeFileSync(outFile, JSON.stringify({ hardwareClass, backend: info, settings, rows }, null, 2));
for (const net of nets) {
  const p50s: number[] = [];
  let modules: Awaited<ReturnType<typeof moduleTimes>> = [];
  for (let i = 0; i < (full ? 5 : 2); i++) {
    const model = buildTimedModel(parseArchitecture(net.arch), { form: 'detection', batch: 1 });
    try {
      const m = await measure(() => model.run(), settings);
      p50s.push(m.summary.p50);
      if (i === 0) modules = await moduleTimes(model, 5, m.summary.mean);
    } finally {
      model.dispose();
    }
  }
  const s = summarize(p50s);
  const row = { name: `${net.name} ${net.arch.split('/').at(-1)} batch 1`, p50s, meanP50: s.mean, cvOfP50: s.cv, modules };
  rows.push(row);
  console.log(`${row.name}: p50s ${p50s.map((x) => x.toFixed(2)).join(', ')} ms; CV of p50 ${(100 * s.cv).toFixed(2)}%; modules ${modules.map((m) => `${m.name} ${m.ms.toFixed(2)} (gpu ${m.gpuMs.toFixed(2)})`).join(', ')}`);
  save();
}
process.exit(0);
