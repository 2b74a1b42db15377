// Picks and starts the tfjs backend for training: native TensorFlow (CUDA, then CPU) when its
// package is installed and loads, then WebGPU on a GPU adapter (Dawn through Vulkan), otherwise the
// wasm backend (XNNPACK, SIMD, threads) with this package's gradient kernels. The pure-JS `cpu`
// backend, and WebGPU on a software adapter (lavapipe), only when asked for by name.
import os from 'node:os';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import * as wasm from '@tensorflow/tfjs-backend-wasm';
import { loadNativeKernels } from '@sm-nas/native-kernels';
import { registerCoreGradients } from './gradients.js';
import { registerLeanGradients } from './kernels/batchnorm-grad.js';
import { registerNativeKernels } from './kernels/native.js';
import { registerWasmKernels } from './kernels/register.js';
import { withNodeWasmThreads } from './wasm-threads.js';
import { setWebGpuBackend, startWebGpu, type GpuAdapterInfo } from './webgpu.js';
import { registerWebGpuKernels } from './kernels/webgpu/register.js';

import { NATIVE_ENV } from '@sm-nas/native-kernels';
import { BACKEND_ENV, THREADS_ENV, WASM_THREADS_ENV, WEBGPU_ADAPTER_ENV, parseBackendChoice, type BackendChoice } from './choice.js';

export { BACKEND_ENV, THREADS_ENV, WASM_THREADS_ENV, parseBackendChoice, type BackendChoice };

export interface BackendInfo {
  /** tfjs backend name: `tensorflow` (libtensorflow through tfjs-node or tfjs-node-gpu), `webgpu`, `wasm` or `cpu`. */
  name: 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';
  /** Package and version that runs the kernels, e.g. `@tensorflow/tfjs-backend-wasm@4.22.0`. */
  version: string;
  /** Whether the kernels use SIMD (wasm SIMD128; native TensorFlow uses the CPU's own). */
  simd: boolean;
  /**
   * Threads the kernels run on: oneDNN's OpenMP pool when `native` is set, else the XNNPACK pool
   * for wasm; 0 when the backend decides.
   */
  threads: number;
  /** The wasm backend's own pool (XNNPACK and its element-wise kernels), when it differs from `threads`. */
  wasmThreads?: number;
  /**
   * Native library that runs the wasm backend's convolutions in place on its heap, e.g.
   * `oneDNN 2.6.3` (@sm-nas/native-kernels); absent when XNNPACK runs them (`reason` says why).
   */
  native?: string;
  /** The WebGPU adapter that runs the kernels (webgpu only). */
  adapter?: GpuAdapterInfo;
  /** Why this backend runs: what was asked for and what was missing. */
  reason: string;
}

export interface InitBackendOptions {
  /** Overrides `SM_NAS_TFJS_BACKEND`; default `auto`. */
  backend?: BackendChoice;
  /** wasm threads; overrides `SM_NAS_TFJS_THREADS`; default: all CPUs (at most 8). */
  threads?: number;
  /** The wasm pool beside the native kernels; overrides `SM_NAS_WASM_THREADS`. */
  wasmThreads?: number;
  /** A WebGPU adapter by name; overrides `SM_NAS_WEBGPU_ADAPTER`. */
  webgpuAdapter?: string;
  /** False turns the native kernels off; overrides `SM_NAS_NATIVE`. */
  nativeKernels?: boolean;
  /**
   * The GPUs tfjs-node-gpu may use (CUDA_VISIBLE_DEVICES syntax, e.g. `1`); default: as launched.
   * CUDA reads its device list only from the process environment, once, when the package loads, so
   * this is written there just before that import: the one variable this package sets, on request.
   */
  cudaVisibleDevices?: string;
  /** Where the one line about the choice goes; default `console.info`. `null` to stay silent. */
  log?: ((line: string) => void) | null;
  /** Environment to read (tests); default `process.env`. */
  env?: Record<string, string | undefined>;
}

let started: Promise<BackendInfo> | undefined;
let current: BackendInfo | undefined;

/**
 * Starts the backend once; later calls return the same result whatever their options.
 * Throws when a forced choice cannot start.
 */
export function initBackend(options: InitBackendOptions = {}): Promise<BackendInfo> {
  started ??= start(options).then(
    (info) => {
      current = info;
      if (options.log !== null) (options.log ?? console.info)(describeBackend(info));
      return info;
    },
    (error: unknown) => {
      started = undefined;
      throw error;
    },
  );
  return started;
}

/** The running backend, or undefined before `initBackend` resolved. */
export function backendInfo(): BackendInfo | undefined {
  return current;
}

/**
 * One line: `tfjs backend: wasm @tensorflow/tfjs-backend-wasm@4.22.0 + oneDNN 2.6.3 native
 * convolutions (simd, 2 threads) — <reason>`.
 */
export function describeBackend(info: BackendInfo): string {
  if (info.adapter) {
    const a = info.adapter;
    const kind = a.software ? 'software adapter, not a GPU' : 'GPU';
    const extra = [kind, ...a.features].join(', ');
    return `tfjs backend: ${info.name} ${info.version} on ${a.vendor} ${a.architecture} "${a.device}"${a.description ? ` (${a.description})` : ''} (${extra}) — ${info.reason}`;
  }
  const features = [
    info.simd ? 'simd' : 'no simd',
    info.threads > 0 ? `${info.threads} thread${info.threads === 1 ? '' : 's'}` : '',
    info.wasmThreads !== undefined ? `wasm pool ${info.wasmThreads}` : '',
  ];
  const native = info.native ? ` + ${info.native} native convolutions` : '';
  return `tfjs backend: ${info.name} ${info.version}${native} (${features.filter(Boolean).join(', ')}) — ${info.reason}`;
}

function parseThreads(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${THREADS_ENV}=${value}: expected a positive integer`);
  return n;
}

async function start(options: InitBackendOptions): Promise<BackendInfo> {
  // Settings given explicitly (a service's parsed configuration) win over the variables, also for
  // the libraries below, which read their own from the environment they are handed.
  const given = options.env ?? process.env;
  const env: Record<string, string | undefined> = {
    ...given,
    ...(options.webgpuAdapter !== undefined ? { [WEBGPU_ADAPTER_ENV]: options.webgpuAdapter } : {}),
    ...(options.nativeKernels !== undefined ? { [NATIVE_ENV]: options.nativeKernels ? undefined : '0' } : {}),
  };
  const choice = options.backend ?? parseBackendChoice(env[BACKEND_ENV]);
  const threads = options.threads ?? parseThreads(env[THREADS_ENV]) ?? os.availableParallelism();
  const forced = `${BACKEND_ENV}=${choice}`;
  await registerCoreGradients();
  registerLeanGradients();

  if (choice === 'cpu') {
    if (!(await tf.setBackend('cpu'))) throw new Error('tfjs cpu backend failed to start');
    return { name: 'cpu', version: `@tensorflow/tfjs-backend-cpu@${tf.version_core}`, simd: false, threads: 1, reason: `${forced} (pure JS, ~150x slower than wasm for training)` };
  }

  const missing: string[] = [];
  if (choice === 'auto' || choice === 'tensorflow') {
    for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
      const native = await tryNative(pkg, options.cudaVisibleDevices);
      if (typeof native !== 'string') {
        const reason = choice === 'tensorflow' ? forced : `${pkg} installed${missing.length ? `; ${missing.join(', ')}` : ''}`;
        return { ...native, reason };
      }
      missing.push(native);
    }
    if (choice === 'tensorflow') throw new Error(`${forced} but ${missing.join(', ')}`);
  }

  if (choice === 'auto' || choice === 'webgpu') {
    const gpu = await startWebGpu({ allowSoftware: choice === 'webgpu', env });
    if (gpu.ok) {
      if (!(await setWebGpuBackend(gpu))) throw new Error('tfjs webgpu backend failed to start');
      registerWebGpuKernels();
      const reason = choice === 'webgpu' ? forced : [...missing, `a WebGPU ${gpu.adapter.software ? 'software adapter' : 'GPU'} found`].join('; ');
      return { name: 'webgpu', version: gpu.version, simd: false, threads: 0, adapter: gpu.adapter, reason };
    }
    if (choice === 'webgpu') throw new Error(`${forced} but ${gpu.reason}`);
    missing.push(`webgpu: ${gpu.reason}`);
  }

  // With the native kernels, the wasm pool gets one thread: what is left on it is element-wise
  // work, and its spinning workers competed with oneDNN's OpenMP team for the same cores (a ReLU
  // took 2.2 ms with both pools at 2 threads on 2 cores, 0.09 ms with the wasm pool at 1).
  const wasmThreads = options.wasmThreads ?? parseThreads(env[WASM_THREADS_ENV]) ?? (loadNativeKernels(env).ok ? 1 : threads);
  const w = await startWasm(wasmThreads);
  const why = [choice === 'wasm' ? forced : missing.join(', '), w.note];
  // oneDNN's OpenMP threads: as many as asked for, even when the wasm pool fell back to one.
  const native = registerNativeKernels(threads, env);
  if (!native.active) why.push(`native convolutions off: ${native.reason}`);
  const { note: _, ...info } = w;
  if (!native.active) return { ...info, reason: why.filter(Boolean).join('; ') };
  return { ...info, threads: native.threads, ...(info.threads !== native.threads ? { wasmThreads: info.threads } : {}), native: native.library, reason: why.filter(Boolean).join('; ') };
}

/** Loads a native package; returns the backend info or why it is not usable. */
async function tryNative(pkg: string, cudaVisibleDevices: string | undefined): Promise<Omit<BackendInfo, 'reason'> | string> {
  let mod: { version?: Record<string, string> };
  if (pkg === '@tensorflow/tfjs-node-gpu' && cudaVisibleDevices !== undefined) process.env.CUDA_VISIBLE_DEVICES = cudaVisibleDevices;
  try {
    mod = (await import(pkg)) as typeof mod;
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') return `${pkg} not installed`;
    return `${pkg} failed to load (${firstLine(error)})`;
  }
  // tfjs-node registers `tensorflow` with the tfjs-core it imports; if that is another copy than
  // ours, our tensors would not reach it.
  if (tf.findBackendFactory('tensorflow') == null) {
    return `${pkg} registered with another @tensorflow/tfjs-core than ${tf.version_core}`;
  }
  if (!(await tf.setBackend('tensorflow'))) return `${pkg} failed to start`;
  const version = mod.version?.['tfjs-node'] ?? mod.version?.['tfjs-core'] ?? tf.version_core;
  return { name: 'tensorflow', version: `${pkg}@${version}`, simd: true, threads: 0 };
}

async function startWasm(threads: number): Promise<Omit<BackendInfo, 'reason'> & { note: string }> {
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) as boolean;
  let note = '';
  if (threads > 1 && simd) {
    wasm.setThreadsCount(threads);
    tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
    let ok = false;
    try {
      ok = await withNodeWasmThreads(() => tf.setBackend('wasm'));
    } catch (error) {
      note = `threaded wasm failed (${firstLine(error)})`;
    }
    if (ok) {
      registerWasmKernels();
      return { name: 'wasm', version: `@tensorflow/tfjs-backend-wasm@${wasm.version_wasm}`, simd, threads: wasm.getThreadsCount(), note };
    }
    note ||= 'threaded wasm failed to start';
  }
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  wasm.setThreadsCount(1);
  if (!(await tf.setBackend('wasm'))) throw new Error('tfjs wasm backend failed to start');
  registerWasmKernels();
  return { name: 'wasm', version: `@tensorflow/tfjs-backend-wasm@${wasm.version_wasm}`, simd, threads: wasm.getThreadsCount(), note };
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0] ?? text;
}
