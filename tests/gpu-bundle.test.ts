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
    for (const f of ['node.xz', 'bench.mjs', 'profile.mjs', 'run.sh', 'summary.mjs', 'torch_peer.py', 'networks.json', 'pytorch_retinanet.py', 'pytorch_faster_rcnn.py', 'lib/libvulkan.so.1', 'node_modules/webgpu/dist/linux-x64/dawn.node.xz']) {
      expect(existsSync(join(bundle, f)), f).toBe(true);
    }
    const out = mkdtempSync(join(os.tmpdir(), 'gpu-bundle-'));
    // The peer's network list: the ten of the inference goal, at full size.
    const networks = JSON.parse(readFileSync(join(bundle, 'networks.json'), 'utf8')) as { key: string; size: string }[];
    expect(networks).toHaveLength(10);
    expect(networks.filter((n) => n.size === '224x224')).toHaveLength(7);
    // As on a host without Node on its PATH: the bundle's own Node runs the benches. Of the ten
    // inference networks, two (lavapipe takes seconds per detector iteration), the detector twice.
    const r = spawnSync('bash', [join(bundle, 'run.sh')], {
      env: {
        PATH: '/usr/bin:/bin', HOME: process.env['HOME'] ?? '/root', OUT: out, BENCH_TORCH: '0', BENCH_GPU_SIZE: 'small',
        BENCH_PROFILE_NETWORKS: 'infer:mobilenet_v2,infer:retinanet-r50-fpn',
      },
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
    const profile = JSON.parse(readFileSync(join(out, 'profile.json'), 'utf8')) as { rows: { key: string; p50s: number[]; cvOfP50?: number; modules: { name: string }[] }[] };
    expect(profile.rows.map((x) => x.key)).toEqual(['infer:mobilenet_v2', 'infer:retinanet-r50-fpn']);
    expect(profile.rows[1]!.p50s).toHaveLength(2);
    expect(profile.rows[1]!.cvOfP50).toBeGreaterThanOrEqual(0);
    expect(profile.rows[1]!.modules.map((m) => m.name)).toEqual(['backbone', 'neck', 'head', 'postprocess']);
    const summary = readFileSync(join(out, 'summary.md'), 'utf8');
    expect(summary).toMatch(/\| RetinaNet-R50-FPN 64x64: CV of p50 over 2 profiles \| [\d.]+% \|/);
    expect(summary).toMatch(/\| Spearman, ours vs PyTorch, 0 of 2 networks \| .* \| not measured \|/);
    expect(summary).toMatch(/\| RetinaNet-R18-FPN train step, batch 2, 64x64 \| [\d.]+ ms \| - \|/);
    expect(summary).toContain('no PyTorch peer');
  }, 1_200_000);
});
