// The benchmarks' PyTorch peer: Debian's python3-torch 1.13 and python3-torchvision, run with
// OpenBLAS. Debian's torch calls the system BLAS (libblas.so.3) for matmul, and with only the
// reference BLAS (libblas3) installed a torchvision Faster R-CNN step took 31 s, 28 s of it in the
// R-CNN head's two fully connected layers (3.5 s with OpenBLAS): a peer that slow would make any
// ratio against it meaningless. The benchmarks install what is missing (apt; sudo when not root).
import { spawnSync } from 'node:child_process';

export const PYTHON = process.env.BENCH_PYTHON ?? '/usr/bin/python3';

const installed = (pkg: string) => spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' }).stdout?.includes('install ok installed') ?? false;
const imports = (modules: string) => spawnSync(PYTHON, ['-c', `import ${modules}`]).status === 0;

/** Installs the peer's Debian packages when they are missing; throws when that fails. */
export function ensureTorchPeer(): void {
  const missing: string[] = [];
  if (!imports('torch, torchvision')) missing.push('python3-torch', 'python3-torchvision');
  if (!installed('libopenblas0-pthread') && !installed('libopenblas0-openmp') && !installed('libopenblas0')) missing.push('libopenblas0-pthread');
  if (missing.length === 0) return;
  console.error(`bench: installing the PyTorch peer's Debian packages: ${missing.join(' ')}`);
  const sudo = process.getuid?.() === 0 ? [] : ['sudo'];
  const apt = (...args: string[]) => spawnSync(sudo[0] ?? 'apt-get', [...(sudo.length ? ['apt-get'] : []), ...args], { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  apt('update', '-qq');
  const result = apt('install', '-y', '-qq', '--no-install-recommends', ...missing);
  if (result.status !== 0 || !imports('torch, torchvision')) throw new Error(`bench: could not install ${missing.join(' ')} (apt-get exit ${result.status})`);
}

/** The peer's environment: its OpenMP and OpenBLAS pools at `threads`. */
export function torchEnv(threads: number): NodeJS.ProcessEnv {
  return { ...process.env, OMP_NUM_THREADS: String(threads), OPENBLAS_NUM_THREADS: String(threads) };
}
