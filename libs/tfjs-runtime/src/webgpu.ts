// The WebGPU backend on Dawn's Node binding (npm `webgpu`, a prebuilt dawn.node: nothing is
// downloaded at install), through Vulkan on Linux: NVIDIA, AMD and Intel GPUs alike, and Mesa's
// lavapipe as a software adapter where there is no GPU. The adapter and device are made here rather
// than by tfjs-backend-webgpu's own factory (which needs a browser's `navigator.gpu` at import), so
// that the adapter can be chosen, described, and refused when it is a software one.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import * as tf from '@tensorflow/tfjs-core';

import { WEBGPU_ADAPTER_ENV } from './choice.js';

/** Picks the adapter by name among several GPUs (Dawn's `adapter=` option), e.g. `NVIDIA H200`. */
export { WEBGPU_ADAPTER_ENV };

export interface GpuAdapterInfo {
  /** e.g. `nvidia`, `amd`, `intel`, `mesa`. */
  vendor: string;
  /** e.g. `hopper`, `rdna-3`; `software` for a CPU rasteriser. */
  architecture: string;
  /** The driver's device name, e.g. `NVIDIA H200` or `llvmpipe (LLVM 15.0.6, 256 bits)`. */
  device: string;
  /** Driver description, e.g. `NVIDIA: 580.95.05` or `llvmpipe: Mesa 25.0.7`. */
  description: string;
  /** A software adapter (lavapipe, SwiftShader): correct, but no GPU and no GPU's speed. */
  software: boolean;
  /** Optional WebGPU features the device was created with (`shader-f16`, `timestamp-query`). */
  features: string[];
}

export type WebGpuStart =
  | { ok: true; adapter: GpuAdapterInfo; version: string; device: GPUDevice }
  | { ok: false; reason: string };

const require = createRequire(import.meta.url);

function packageVersion(name: string): string {
  try {
    return (require(`${name}/package.json`) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

/** `@tensorflow/tfjs-backend-webgpu@4.22.0 on Dawn (webgpu@0.6.2)`. */
export function webGpuVersion(): string {
  // Released with tfjs-core and pinned to it (a bundle has no package.json to read it from).
  const tfjs = packageVersion('@tensorflow/tfjs-backend-webgpu');
  return `@tensorflow/tfjs-backend-webgpu@${tfjs === 'unknown' ? tf.version_core : tfjs} on Dawn (webgpu@${packageVersion('webgpu')})`;
}

const LIB_DIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/lib/x86_64-linux-gnu', '/lib64', '/usr/local/lib'];
const ICD_DIRS = ['/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d', '/usr/share/vulkan/icd.d'];

/**
 * What Vulkan needs on this machine and lacks: the loader library and at least one ICD (a driver's
 * JSON manifest). Empty when both are there; then a missing adapter is the driver's doing.
 */
export function vulkanMissing(
  env: Record<string, string | undefined> = process.env,
  dirs: { lib: readonly string[]; icd: readonly string[] } = { lib: LIB_DIRS, icd: ICD_DIRS },
): string[] {
  const missing: string[] = [];
  const libDirs = [...(env['LD_LIBRARY_PATH'] ?? '').split(':').filter(Boolean), ...dirs.lib];
  if (!libDirs.some((d) => fs.existsSync(path.join(d, 'libvulkan.so.1')))) {
    missing.push('the Vulkan loader libvulkan.so.1 (Debian/Ubuntu: libvulkan1)');
  }
  const explicit = env['VK_DRIVER_FILES'] ?? env['VK_ICD_FILENAMES'];
  if (explicit) {
    const files = explicit.split(':').filter(Boolean);
    if (!files.some((f) => fs.existsSync(f))) missing.push(`the Vulkan ICD files named by VK_DRIVER_FILES/VK_ICD_FILENAMES (${files.join(', ')})`);
  } else {
    const dataDirs = (env['XDG_DATA_DIRS'] ?? '').split(':').filter(Boolean).map((d) => path.join(d, 'vulkan/icd.d'));
    const icdDirs = [...dirs.icd, ...dataDirs, path.join(env['HOME'] ?? os.homedir(), '.local/share/vulkan/icd.d')];
    const icds = icdDirs.flatMap((d) => (fs.existsSync(d) ? fs.readdirSync(d).filter((f) => f.endsWith('.json')) : []));
    if (icds.length === 0) {
      missing.push(
        'a Vulkan ICD (driver manifest) in /usr/share/vulkan/icd.d or /etc/vulkan/icd.d: the GPU driver\'s own '
        + '(NVIDIA: nvidia_icd.json from the driver, in containers with NVIDIA_DRIVER_CAPABILITIES including graphics; '
        + 'AMD/Intel: Mesa\'s mesa-vulkan-drivers), or set VK_DRIVER_FILES; without a GPU, Mesa 25 lavapipe '
        + '(bookworm-backports mesa-vulkan-drivers) is a software adapter',
      );
    }
  }
  return missing;
}

function isSoftware(info: { vendor?: string; architecture?: string; device?: string; description?: string }, fallback: boolean): boolean {
  if (fallback) return true;
  const text = `${info.architecture ?? ''} ${info.device ?? ''} ${info.description ?? ''}`.toLowerCase();
  return /\bsoftware\b|llvmpipe|lavapipe|swiftshader|softpipe/.test(text);
}

interface DawnModule {
  create(flags: string[]): GPU;
  globals: Record<string, unknown>;
}

/**
 * Loads Dawn, finds an adapter and creates a device with the optional features this project uses.
 * A software adapter is taken only when `allowSoftware`. Never throws: a failure says what is
 * missing.
 */
export async function startWebGpu(options: { allowSoftware: boolean; env?: Record<string, string | undefined> }): Promise<WebGpuStart> {
  const env = options.env ?? process.env;
  let dawn: DawnModule;
  try {
    dawn = (await import('webgpu')) as unknown as DawnModule;
  } catch (error) {
    return { ok: false, reason: `Dawn's Node binding (npm webgpu) failed to load: ${firstLine(error)}` };
  }
  // tfjs-backend-webgpu reads the WebGPU globals (GPUBufferUsage, GPUMapMode, ...) as a browser has them.
  for (const [name, value] of Object.entries(dawn.globals)) {
    if (!(name in globalThis)) (globalThis as Record<string, unknown>)[name] = value;
  }
  const wanted = env[WEBGPU_ADAPTER_ENV]?.trim();
  let gpu: GPU;
  try {
    gpu = dawn.create(wanted ? [`adapter=${wanted}`] : []);
  } catch (error) {
    return { ok: false, reason: `${WEBGPU_ADAPTER_ENV}=${wanted}: ${firstLine(error)}` };
  }
  // tfjs-backend-webgpu checks for `navigator.gpu` before it uses a device (Node 20 has no
  // navigator; Node 21 and later have one without gpu).
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (!nav) (globalThis as { navigator?: { gpu?: GPU } }).navigator = { gpu };
  else if (!nav.gpu) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true });
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  } catch (error) {
    return { ok: false, reason: `no WebGPU adapter (${firstLine(error)})` };
  }
  if (!adapter) {
    const missing = vulkanMissing(env);
    const what = missing.length > 0 ? `missing ${missing.join('; and ')}` : 'Vulkan and an ICD are installed, but no driver offered a device Dawn accepts (Debian 12\'s Mesa 22 lavapipe is refused; Mesa >= 25 works)';
    return { ok: false, reason: `no WebGPU adapter${wanted ? ` named ${wanted}` : ''}: ${what}` };
  }
  const raw = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const software = isSoftware(raw, raw.isFallbackAdapter === true);
  const info = {
    vendor: raw.vendor || 'unknown',
    architecture: raw.architecture || 'unknown',
    device: raw.device || raw.description || 'unknown',
    description: raw.description || '',
    software,
  };
  if (software && !options.allowSoftware) {
    return { ok: false, reason: `only a software WebGPU adapter (${info.vendor} ${info.device}), used only when webgpu is asked for by name` };
  }
  const features = (['shader-f16', 'timestamp-query'] as GPUFeatureName[]).filter((f) => adapter.features.has(f));
  const limits = adapter.limits;
  let device: GPUDevice;
  try {
    device = await adapter.requestDevice({
      requiredFeatures: features,
      // tfjs-backend-webgpu asks for the adapter's own limits on these (large maps and workgroups).
      requiredLimits: {
        maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
        maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
        maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
        maxBufferSize: limits.maxBufferSize,
        maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
        maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
        // The default (8) is less than one tfjs kernel may bind: an AddN of 8 tensors, a RoIAlign
        // over 6 levels. A kernel over the limit fails silently, with the whole batch of kernels.
        maxStorageBuffersPerShaderStage: limits.maxStorageBuffersPerShaderStage,
      },
    });
  } catch (error) {
    return { ok: false, reason: `WebGPU adapter ${info.device} refused a device: ${firstLine(error)}` };
  }
  void device.lost.then((lost) => {
    if (lost.reason !== 'destroyed') console.error(`webgpu: device lost (${lost.reason}): ${lost.message}`);
  });
  return { ok: true, adapter: { ...info, features }, version: webGpuVersion(), device };
}

/**
 * Registers and starts tfjs's `webgpu` backend on `device`. Imported lazily: the package's Node
 * bundle registers its own factory at import only where `navigator.gpu` exists, which it does not
 * here, so importing it on a machine without WebGPU costs nothing more.
 */
export async function setWebGpuBackend(started: Extract<WebGpuStart, { ok: true }>): Promise<boolean> {
  const { WebGPUBackend } = await import('@tensorflow/tfjs-backend-webgpu');
  if (tf.findBackendFactory('webgpu') == null) {
    tf.registerBackend('webgpu', () => new WebGPUBackend(started.device, started.device.adapterInfo ?? undefined), 3);
  }
  return tf.setBackend('webgpu');
}

function firstLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.split('\n')[0] ?? text;
}
