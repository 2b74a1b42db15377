// The kernel tests' backend: wasm where it loads (then they compare it with cpu), else cpu.
import { initBackend } from '../../backend.js';

/** Initialises wasm, or cpu when wasm cannot load; returns whether wasm runs. */
export async function wasmOrCpu(): Promise<boolean> {
  try {
    await initBackend({ backend: 'wasm', log: null });
    return true;
  } catch {
    await initBackend({ backend: 'cpu', log: null });
    return false;
  }
}
