// Which tfjs backend is asked for, without loading tfjs: the command line checks `--backend` before
// it decides whether to start a service in process at all.
import { NATIVE_ENV, NATIVE_OFF_VALUES } from '@sm-nas/native-kernels';

export const BACKEND_ENV = 'SM_NAS_TFJS_BACKEND';
/** Compute threads: the wasm pool, or oneDNN's when the native kernels run (default: all CPUs). */
export const THREADS_ENV = 'SM_NAS_TFJS_THREADS';
/** The wasm backend's own thread pool when the native kernels run (default 1; see backend.ts `start`). */
export const WASM_THREADS_ENV = 'SM_NAS_WASM_THREADS';
/** A WebGPU adapter by name (Dawn's `adapter=` toggle). */
export const WEBGPU_ADAPTER_ENV = 'SM_NAS_WEBGPU_ADAPTER';

export type BackendChoice = 'auto' | 'wasm' | 'cpu' | 'tensorflow' | 'webgpu';
export const BACKEND_CHOICES = ['auto', 'wasm', 'cpu', 'tensorflow', 'webgpu'] as const satisfies readonly BackendChoice[];

export function parseBackendChoice(value: string | undefined): BackendChoice {
  const v = (value ?? '').trim().toLowerCase() || 'auto';
  if (!(BACKEND_CHOICES as readonly string[]).includes(v)) {
    throw new Error(`${BACKEND_ENV}=${value}: expected one of ${BACKEND_CHOICES.join(', ')}`);
  }
  return v as BackendChoice;
}

/**
 * Every variable the backend reads, for a service's configuration schema (libs/service-kit
 * tfjsBackendPiece checks them at start, so a bad value stops the service, not its first job).
 */
export const TFJS_BACKEND_VARIABLES = {
  backend: BACKEND_ENV,
  choices: BACKEND_CHOICES,
  defaultBackend: 'auto' as BackendChoice,
  threads: THREADS_ENV,
  wasmThreads: WASM_THREADS_ENV,
  webgpuAdapter: WEBGPU_ADAPTER_ENV,
  native: NATIVE_ENV,
  nativeOff: NATIVE_OFF_VALUES,
} as const;
