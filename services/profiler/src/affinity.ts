// CPU pinning. Node cannot set its own affinity, so `taskset` (util-linux) does it for every thread
// of this process (-a); threads started later (the wasm backend's pool, oneDNN's OpenMP team)
// inherit it. Call before the backend starts.
import { execFileSync } from 'node:child_process';

export function pinToCpus(cpus: string, pid = process.pid): void {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    throw new Error(`PROFILER_CPUS=${cpus}: taskset failed (${stderr || (err as Error).message}); install util-linux or unset PROFILER_CPUS`);
  }
}
