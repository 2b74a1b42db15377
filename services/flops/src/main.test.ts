// The real process: a bad variable stops main.ts before it listens, with every bad one named.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const main = fileURLToPath(new URL('./main.ts', import.meta.url));

describe('the flops process', () => {
  it('exits non-zero at start naming each bad variable', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', main], {
      env: { ...process.env, FLOPS_PORT: 'http', OTEL_TRACES_EXPORTER: 'jaeger' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    const started = Date.now();
    const [code] = (await once(child, 'exit')) as [number | null];
    clearTimeout(timer);
    expect(code, out).toBe(2);
    expect(Date.now() - started).toBeLessThan(15_000);
    expect(out).toContain('FLOPS_PORT: expected an integer port 0..65535, got "http"');
    expect(out).toContain('OTEL_TRACES_EXPORTER: expected one of otlp|console|none, got "jaeger"');
  }, 20_000);
});
