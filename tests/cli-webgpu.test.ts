// The command line on the webgpu backend, end to end as a user runs it: `sm-nas train --backend
// webgpu` trains on the built-in data and evaluates, `sm-nas profile --backend webgpu` measures on
// the in-process profiler; both say which adapter ran. On lavapipe where there is no GPU (the
// set-up installs it); skipped where no WebGPU adapter exists, except in CI. A bad --backend is a
// usage error, and --backend with --addr is refused (the remote service chose its own).
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('..', import.meta.url));
const cli = join(root, 'services/cli/src/main.ts');
// tsx by path: the command runs in a fresh folder (its .sm-nas/ goes there), where `tsx` does not resolve.
const tsx = pathToFileURL(join(createRequire(import.meta.url).resolve('tsx/package.json'), '..', 'dist/loader.mjs')).href;
const TINY = 'resnet18:16:11-21-21-21/fpn:3-5:16/none/retinanet:16/64x64';

function smNas(args: string[], env: Record<string, string> = {}) {
  const cwd = mkdtempSync(join(os.tmpdir(), 'sm-nas-cli-'));
  return spawnSync(process.execPath, ['--import', tsx, cli, ...args], {
    cwd, encoding: 'utf8', timeout: 600_000, env: { ...process.env, OTEL_TRACES_EXPORTER: 'none', ...env },
  });
}

/** Whether webgpu starts here; in CI it must. */
function webgpuHere(): boolean {
  const r = smNas(['profile', TINY, '--backend', 'webgpu', '--iterations', '5', '--seconds', '0.1', '--json']);
  if (r.status === 0) return true;
  if (process.env['CI']) throw new Error(`webgpu failed in CI: ${r.stderr.slice(-2000)}`);
  console.warn(`skipped: ${r.stderr.split('\n').find((l) => l.includes('webgpu')) ?? r.stderr.slice(-300)}`);
  return false;
}

describe('sm-nas on the webgpu backend', () => {
  it('refuses a bad --backend, and --backend with --addr, as usage errors', () => {
    const bad = smNas(['train', TINY, '--backend', 'cuda']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/--backend: SM_NAS_TFJS_BACKEND=cuda: expected one of auto, wasm, cpu, tensorflow, webgpu/);
    const remote = smNas(['profile', TINY, '--backend', 'webgpu', '--addr', '127.0.0.1:1']);
    expect(remote.status).toBe(2);
    expect(remote.stderr).toMatch(/--backend: the service at --addr or --nats chose its own backend/);
  });

  it('trains and profiles end to end, saying which adapter ran', () => {
    if (!webgpuHere()) return;
    const train = smNas(['train', TINY, '--backend', 'webgpu', '--steps', '3', '--batch', '2', '--images', '8']);
    expect(train.status, train.stderr.slice(-2000)).toBe(0);
    const said = train.stdout + train.stderr;
    expect(said).toMatch(/tfjs backend: webgpu .* on \S+ /);
    expect(said).toMatch(/succeeded after 3 steps .*backend webgpu/);
    expect(train.stdout).toMatch(/AP \d\.\d{3} +AP50/);

    const profile = smNas(['profile', TINY, '--backend', 'webgpu', '--iterations', '5', '--seconds', '0.5']);
    expect(profile.status, profile.stderr.slice(-2000)).toBe(0);
    expect(profile.stdout).toMatch(/on (cpu|gpu)\.\S*webgpu-dawn-\d+\.\d+/);
    expect(profile.stdout).toMatch(/measured: p50 [\d.]+ ms/);
    expect(profile.stdout).toMatch(/module +mean/);
  }, 900_000);
});
