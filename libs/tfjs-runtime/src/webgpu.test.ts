// Choosing WebGPU: what a machine without Vulkan is told, that `auto` never runs on a software
// adapter, and that a forced `webgpu` with no adapter fails at start naming what is missing. The
// backend starts once per process, so each choice runs in a child process of its own.
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { vulkanMissing } from './webgpu.js';

const index = fileURLToPath(new URL('./index.ts', import.meta.url));

/** Starts the backend in a child process with `backend` and extra environment; its info or error as JSON. */
function startIn(backend: string, env: Record<string, string> = {}): { name?: string; adapter?: { software: boolean }; reason?: string; error?: string } {
  const script = `
    const { initBackend } = await import(${JSON.stringify(index)});
    try { const info = await initBackend({ backend: ${JSON.stringify(backend)}, log: null }); console.log('RESULT ' + JSON.stringify(info)); }
    catch (e) { console.log('RESULT ' + JSON.stringify({ error: e.message })); }
    process.exit(0);`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000,
  });
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (!line) throw new Error(`child failed: ${r.stderr}`);
  return JSON.parse(line.slice(7)) as ReturnType<typeof startIn>;
}

describe('Vulkan prerequisites', () => {
  it('names the loader and the ICD when they are missing, and the ICD file VK_DRIVER_FILES names', () => {
    const empty = mkdtempSync(join(os.tmpdir(), 'vk-'));
    const none = vulkanMissing({ HOME: empty }, { lib: [empty], icd: [empty] });
    expect(none).toHaveLength(2);
    expect(none[0]).toMatch(/libvulkan\.so\.1 \(Debian\/Ubuntu: libvulkan1\)/);
    expect(none[1]).toMatch(/Vulkan ICD .*nvidia_icd\.json.*graphics.*lavapipe/);
    mkdirSync(join(empty, 'lib'));
    writeFileSync(join(empty, 'lib', 'libvulkan.so.1'), '');
    writeFileSync(join(empty, 'my_icd.json'), '{}');
    expect(vulkanMissing({ HOME: empty }, { lib: [join(empty, 'lib')], icd: [empty] })).toEqual([]);
    expect(vulkanMissing({ HOME: empty, VK_DRIVER_FILES: '/nonexistent/icd.json' }, { lib: [join(empty, 'lib')], icd: [empty] })).toEqual([
      'the Vulkan ICD files named by VK_DRIVER_FILES/VK_ICD_FILENAMES (/nonexistent/icd.json)',
    ]);
  });
});

describe('choosing webgpu', () => {
  it('fails at start when webgpu is forced and no adapter exists, naming what is missing', () => {
    const r = startIn('webgpu', { VK_DRIVER_FILES: '/nonexistent/icd.json' });
    expect(r.error).toMatch(/^SM_NAS_TFJS_BACKEND=webgpu but no WebGPU adapter: missing the Vulkan ICD files named by VK_DRIVER_FILES/);
  });

  it('auto falls back to wasm without an adapter, and says why', () => {
    const r = startIn('auto', { VK_DRIVER_FILES: '/nonexistent/icd.json' });
    expect(r.name).toBe('wasm');
    expect(r.reason).toMatch(/webgpu: no WebGPU adapter/);
  });

  it('auto never runs on a software adapter; forced webgpu does, and says so', () => {
    const forced = startIn('webgpu');
    if (forced.error) {
      // No adapter at all on this machine (outside CI, where the set-up installs lavapipe).
      expect(process.env['CI']).toBeFalsy();
      return;
    }
    const auto = startIn('auto');
    if (forced.adapter!.software) {
      expect(auto.name).not.toBe('webgpu');
      expect(auto.reason).toMatch(/only a software WebGPU adapter .*used only when webgpu is asked for by name/);
    } else {
      expect(auto.name === 'webgpu' || auto.name === 'tensorflow').toBe(true);
    }
  });
});
