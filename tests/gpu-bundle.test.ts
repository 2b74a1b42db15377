// The offline GPU bench bundle (bench/gpu): packed as for a bare GPU host, under its size limit,
// and its run script executed here end to end on lavapipe (the PyTorch peer skipped: no CUDA),
// leaving the results and the one summary table a GPU host would print. Skipped where no WebGPU
// adapter exists, except in CI (the set-up installs lavapipe).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync, readdirSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const bundle = join(root, 'bench/out/gpu-bundle');

function size(path: string): number {
  const s = statSync(path);
  return s.isDirectory() ? readdirSync(path).reduce((n, f) => n + size(join(path, f)), 0) : s.size;
}

describe('the GPU bench bundle', () => {
  it('packs under 60 MiB and runs its one command on lavapipe', () => {
    execFileSync('bash', [join(root, 'bench/gpu/pack.sh')], { cwd: root, stdio: 'pipe', timeout: 600_000 });
    const bytes = size(bundle);
    expect(bytes).toBeLessThan(60 * 2 ** 20);
    for (const f of ['node.xz', 'bench.mjs', 'profile.mjs', 'run.sh', 'summary.mjs', 'torch_peer.py', 'lib/libvulkan.so.1', 'node_modules/webgpu/dist/linux-x64/dawn.node.xz']) {
      expect(existsSync(join(bundle, f)), f).toBe(true);
    }
    const out = mkdtempSync(join(os.tmpdir(), 'gpu-bundle-'));
    // As on a host without Node on its PATH: the bundle's own Node runs the benches.
    const r = spawnSync('bash', [join(bundle, 'run.sh')], {
      env: { PATH: '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/root', OUT: out, BENCH_TORCH: '0', BENCH_GPU_PARTS: 'bench', BENCH_GPU_SIZE: 'small' },
      encoding: 'utf8', timeout: 900_000,
    });
    if (r.status !== 0 || !existsSync(join(out, 'webgpu.json'))) {
      if (process.env['CI']) throw new Error(`run.sh failed: ${(r.stdout + r.stderr).slice(-3000)}`);
      console.warn(`skipped: no WebGPU adapter here (${(r.stdout + r.stderr).slice(-500)})`);
      return;
    }
    const results = JSON.parse(readFileSync(join(out, 'webgpu.json'), 'utf8')) as { rows: { name: string; error?: string; losses?: number[] }[]; kernels: Record<string, number> };
    expect(Object.values(results.kernels).every((d) => d < 1e-4)).toBe(true);
    const steps = results.rows.filter((x) => x.name.includes('train step'));
    expect(steps.map((x) => x.name.split(' train step')[0])).toEqual(['RetinaNet-R18-FPN', 'Faster R-CNN-R18-FPN', 'Cascade R-CNN-R18-FPN x3']);
    expect(results.rows.filter((x) => x.error)).toEqual([]);
    for (const st of steps) expect(st.losses!.at(-1)!, st.name).toBeLessThan(st.losses![0]!);
    const summary = readFileSync(join(out, 'summary.md'), 'utf8');
    expect(summary).toMatch(/\| RetinaNet-R18-FPN train step, batch 2, 64x64 \| [\d.]+ ms \| - \|/);
    expect(summary).toContain('no PyTorch peer');
  }, 1_200_000);
});
