// Processes that share one device take turns: the local mesh runs the trainer and the profiler on
// the same CPU cores, and a latency measured beside a training run measures the contention (a
// ResNet-18 Faster R-CNN timed at 5.5 s beside training, 3.1 s alone, on 2 cores). The profiler
// holds the lock while it measures; the trainer waits between steps while another process holds
// it. The lock is a file (in the mesh's data directory) holding the holder's pid: a holder that
// died leaves a stale file, which waiters ignore. Deployed profilers own their device and set none.
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

export const DEVICE_LOCK_ENV = 'SM_NAS_DEVICE_LOCK';

export interface DeviceLockOptions {
  /** How often a waiter looks again; default 20 ms. */
  pollMs?: number;
  /** A waiter goes on after this long whatever the holder does; default 120 s. */
  maxWaitMs?: number;
}

export class DeviceLock {
  private readonly pollMs: number;
  private readonly maxWaitMs: number;

  constructor(
    readonly path: string,
    options: DeviceLockOptions = {},
  ) {
    this.pollMs = options.pollMs ?? 20;
    this.maxWaitMs = options.maxWaitMs ?? 120_000;
  }

  /** The lock at `$SM_NAS_DEVICE_LOCK`, or undefined when the process has its device to itself. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): DeviceLock | undefined {
    const path = env[DEVICE_LOCK_ENV];
    return path ? new DeviceLock(path) : undefined;
  }

  /** Runs `fn` holding the lock (the file is removed afterwards, also when `fn` throws). */
  async hold<T>(fn: () => Promise<T>): Promise<T> {
    writeFileSync(this.path, String(process.pid));
    try {
      return await fn();
    } finally {
      rmSync(this.path, { force: true });
    }
  }

  /** Whether another live process holds the lock. */
  heldByOther(): boolean {
    if (!existsSync(this.path)) return false;
    let pid: number;
    try {
      pid = Number(readFileSync(this.path, 'utf8'));
    } catch {
      return false; // removed between the two calls
    }
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
    try {
      process.kill(pid, 0);
      return true;
    } catch (err) {
      // EPERM: alive but not ours to signal; ESRCH: gone, the file is stale.
      return (err as NodeJS.ErrnoException).code === 'EPERM';
    }
  }

  /** Waits while another process holds the lock (at most `maxWaitMs`). */
  async yieldTo(signal?: AbortSignal): Promise<void> {
    if (!this.heldByOther()) return;
    const deadline = Date.now() + this.maxWaitMs;
    while (this.heldByOther() && Date.now() < deadline) {
      signal?.throwIfAborted();
      await sleep(this.pollMs);
    }
  }
}
