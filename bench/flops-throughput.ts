// How many full detectors per second the FLOPs counter analyses on one core (goal: 50,000/s, i.e.
// ~20 µs per detector, so a search can score whole populations without waiting).
//   cd /work/main && pnpm exec tsx bench/flops-throughput.ts
// Records its result in bench/RESULTS.md.

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { BACKBONE_KINDS, standardBackbone, type Architecture, type Head, type Neck, type RpnKind } from '@sm-nas/arch';
import { buildGraph } from '@sm-nas/arch/graph';
import { countFlops, countGraphFlops } from '@sm-nas/flops';

const GOAL_PER_SECOND = 50_000;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 4);

/** The structural space: 7 backbones x (C4 + 15 FPN level pairs) x 9 rpn/head pairs x 4 inputs. */
function detectors(): Architecture[] {
  const necks: Neck[] = [{ kind: 'c4' }];
  for (let s = 1; s <= 6; s++) {
    for (let e = s + 1; e <= 6; e++) necks.push({ kind: 'fpn', startLevel: s, endLevel: e, channels: 256, extraSource: 'c5' });
  }
  const heads: Array<[RpnKind, Head]> = [['none', { kind: 'retinanet', stages: 0, channels: 256 }]];
  for (const rpn of ['rpn', 'guided_anchoring'] as const) {
    heads.push([rpn, { kind: 'faster_rcnn', stages: 1, channels: 256 }]);
    for (const stages of [2, 3, 4]) heads.push([rpn, { kind: 'cascade_rcnn', stages, channels: 256 }]);
  }
  const inputs = [[512, 512], [800, 600], [1080, 720], [1333, 800]] as const;
  const out: Architecture[] = [];
  for (const kind of BACKBONE_KINDS) {
    for (const neck of necks) {
      for (const [rpn, head] of heads) {
        for (const [widthPx, heightPx] of inputs) {
          out.push({ backbone: standardBackbone(kind), neck, rpn, head, input: { widthPx, heightPx } });
        }
      }
    }
  }
  return out;
}

const archs = detectors();
let sink = 0; // keeps the results alive so nothing is optimised away

/** Runs `once` over all detectors for `seconds` after a 1 s warm-up; detectors per second. */
function measure(once: (a: Architecture) => number, seconds: number): { perSecond: number; seconds: number } {
  const pass = (): void => {
    for (const a of archs) sink += once(a);
  };
  const warmUntil = performance.now() + 1000; // let V8 optimise the lowering and the sink
  while (performance.now() < warmUntil) pass();
  let count = 0;
  const start = performance.now();
  const until = start + seconds * 1000;
  while (performance.now() < until) {
    pass();
    count += archs.length;
  }
  const elapsed = (performance.now() - start) / 1000;
  return { perSecond: Math.round(count / elapsed), seconds: elapsed };
}

const summing = measure((a) => countFlops(a).multiplyAdds, SECONDS);
// The peer, in the same run: the same lowering into the graph-building sink (what libs/detector
// uses), summed afterwards.
const graph = measure((a) => countGraphFlops(buildGraph(a)).multiplyAdds, Math.max(1, SECONDS / 4));
if (!Number.isFinite(sink)) throw new Error('unreachable');

const fmt = (n: number): string => n.toLocaleString('en-US');
const verdict = summing.perSecond >= GOAL_PER_SECOND ? 'meets' : 'MISSES';
const line =
  `countFlops ${fmt(summing.perSecond)} detectors/s (${(1e6 / summing.perSecond).toFixed(1)} µs each, ` +
  `${summing.seconds.toFixed(1)} s over ${archs.length} distinct detectors), ${verdict} the goal of ` +
  `${fmt(GOAL_PER_SECOND)}/s; ${(summing.perSecond / graph.perSecond).toFixed(1)}x buildGraph + countGraphFlops ` +
  `(${fmt(graph.perSecond)}/s)`;
console.log(line);

// Newest first under this bench's own section of bench/RESULTS.md.
const results = new URL('./RESULTS.md', import.meta.url);
const header = '## FLOPs: countFlops throughput (one core)';
const command = 'Command: `pnpm exec tsx bench/flops-throughput.ts` (`BENCH_SECONDS`, default 4).';
let text = existsSync(results)
  ? readFileSync(results, 'utf8')
  : '# Benchmark results\n\nNewest results first within a section.\n';
if (!text.includes(header)) text = `${text.trimEnd()}\n\n${header}\n\n${command}\n`;
const at = text.indexOf(command, text.indexOf(header)) + command.length + 1;
const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
const entry = `- ${new Date().toISOString().slice(0, 10)}, node ${process.version}, ${cpu}: ${line}\n`;
writeFileSync(results, text.slice(0, at) + entry + text.slice(at));
