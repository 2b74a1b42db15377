// The detectors train the same on webgpu as on wasm: from the same weights and batch, the loss at
// the initial weights and after the first step agree to 1e-3 (relative), and ten steps lower the
// loss on webgpu (measured at the same sampler position, so the comparison is the training's, not
// the draw's). Each backend runs in a child process of its own; webgpu on whatever adapter exists
// (lavapipe where there is no GPU), skipped where none does, except in CI.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const script = fileURLToPath(new URL('./__fixtures__/ten-steps.ts', import.meta.url));

interface Run {
  backend: string;
  error?: string;
  nets: Record<string, { initial: number; steps: number[]; after: number }>;
}

function run(backend: string): Run {
  const r = spawnSync(process.execPath, ['--import', 'tsx', script, backend], { encoding: 'utf8', timeout: 600_000, maxBuffer: 1 << 24 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) return { backend, error: `${r.stderr.split('\n').filter((l) => !l.startsWith('Warning')).slice(-5).join('\n')}`, nets: {} };
  return JSON.parse(line.slice(7)) as Run;
}

const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(1e-6, Math.abs(b));

describe('training on webgpu against wasm', () => {
  it('RetinaNet, Faster R-CNN and Cascade R-CNN: same first losses, and ten steps lower them', () => {
    const gpu = run('webgpu');
    if (gpu.error) {
      if (process.env['CI']) throw new Error(`webgpu run failed: ${gpu.error}`);
      console.warn(`skipped: no webgpu here (${gpu.error})`);
      return;
    }
    const cpu = run('wasm');
    expect(cpu.error).toBeUndefined();
    expect(Object.keys(gpu.nets)).toEqual(['retinanet', 'faster_rcnn', 'cascade_rcnn']);
    for (const [name, g] of Object.entries(gpu.nets)) {
      const w = cpu.nets[name]!;
      expect(rel(g.initial, w.initial), `${name} initial loss ${g.initial} vs ${w.initial}`).toBeLessThan(1e-3);
      expect(rel(g.steps[0]!, w.steps[0]!), `${name} first step ${g.steps[0]} vs ${w.steps[0]}`).toBeLessThan(1e-3);
      expect(g.steps.every(Number.isFinite), name).toBe(true);
      expect(g.after, `${name} after ten steps`).toBeLessThan(g.initial);
    }
  }, 900_000);
});
