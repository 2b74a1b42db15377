// For tests of other packages: WebGPU on whatever adapter there is (lavapipe in CI, which the
// set-up installs), forced by name so that a software adapter is taken. Where no adapter exists
// outside CI the caller skips and says why; in CI a missing adapter fails the suite.
import { initBackend } from './backend.js';

/** Starts webgpu; resolves to why it cannot run here (the caller skips), or undefined when it runs. */
export async function startWebGpuForTests(what: string): Promise<string | undefined> {
  try {
    await initBackend({ backend: 'webgpu', log: null });
    return undefined;
  } catch (error) {
    if (process.env['CI']) throw error;
    const missing = error instanceof Error ? error.message : String(error);
    console.warn(`${what} skipped: ${missing}`);
    return missing;
  }
}
