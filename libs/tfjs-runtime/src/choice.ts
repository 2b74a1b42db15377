// Which tfjs backend is asked for, without loading tfjs: the command line checks `--backend` before
// it decides whether to start a service in process at all.
export const BACKEND_ENV = 'SM_NAS_TFJS_BACKEND';

export type BackendChoice = 'auto' | 'wasm' | 'cpu' | 'tensorflow' | 'webgpu';
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'wasm', 'cpu', 'tensorflow', 'webgpu'];

export function parseBackendChoice(value: string | undefined): BackendChoice {
  const v = (value ?? '').trim().toLowerCase() || 'auto';
  if (!(BACKEND_CHOICES as readonly string[]).includes(v)) {
    throw new Error(`${BACKEND_ENV}=${value}: expected one of ${BACKEND_CHOICES.join(', ')}`);
  }
  return v as BackendChoice;
}
