// The device lock between real processes: a waiter waits while another live process holds it and
// goes on once it is released; a file left by a dead process (or by this one) does not block.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEVICE_LOCK_ENV, DeviceLock } from './device-lock.js';

const dir = mkdtempSync(join(tmpdir(), 'sm-nas-device-lock-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('DeviceLock', () => {
  it('makes a waiter wait while another process holds it', async () => {
    const path = join(dir, 'held.lock');
    // Another process takes the lock, holds it 600 ms, and releases it.
    const holder = spawn(process.execPath, ['-e', `const fs = require('fs'); fs.writeFileSync(${JSON.stringify(path)}, String(process.pid)); process.stdout.write('held\\n'); setTimeout(() => fs.rmSync(${JSON.stringify(path)}), 600);`]);
    // Listen for the exit now: the holder may be gone before the wait below ends.
    const exited = new Promise((resolve) => holder.once('exit', resolve));
    await new Promise<void>((resolve) => holder.stdout.once('data', () => resolve()));
    const lock = new DeviceLock(path, { pollMs: 10 });
    expect(lock.heldByOther()).toBe(true);
    await lock.yieldTo();
    // It returned because the holder let go (not on its 120 s limit): the file is gone.
    expect(existsSync(path)).toBe(false);
    await exited;
  });

  it('ignores a file left by a process that died, and its own', async () => {
    const path = join(dir, 'stale.lock');
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(path, dead.stdout);
    const lock = new DeviceLock(path);
    expect(lock.heldByOther()).toBe(false);
    await lock.hold(async () => {
      expect(lock.heldByOther()).toBe(false);
      expect(existsSync(path)).toBe(true);
    });
    expect(existsSync(path)).toBe(false);
  });

  it('releases when the holder throws, and gives up waiting after maxWaitMs', async () => {
    const path = join(dir, 'throw.lock');
    const lock = new DeviceLock(path);
    await expect(lock.hold(async () => Promise.reject(new Error('measurement failed')))).rejects.toThrow('measurement failed');
    expect(existsSync(path)).toBe(false);
    // A live holder that never lets go (this test's parent process, alive for the whole test).
    writeFileSync(path, String(process.ppid));
    const t0 = performance.now();
    await new DeviceLock(path, { pollMs: 10, maxWaitMs: 200 }).yieldTo();
    expect(performance.now() - t0).toBeGreaterThanOrEqual(190);
    rmSync(path);
  });

  it('is configured by the environment', () => {
    expect(DeviceLock.fromEnv({})).toBeUndefined();
    expect(DeviceLock.fromEnv({ [DEVICE_LOCK_ENV]: join(dir, 'x.lock') })?.path).toBe(join(dir, 'x.lock'));
  });
});
