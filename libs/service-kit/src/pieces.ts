// The configuration pieces services share, beside the listen address, telemetry and NATS_URL of
// config.ts: a service's schema (services/<service>/src/config.ts) is a `configSchema` of these and
// of its own variables, parsed once in main.ts before anything listens.
import { z } from 'zod';
import { configSchema, envPiece, listenPiece, loaderPiece, natsUrlPiece, telemetryPiece, type ConfigPiece } from './config.js';
import { DEVICE_LOCK_ENV } from './device-lock.js';
import { loadLimits } from './limits.js';
import { DEFAULT_PORTS, type PortedService } from './ports.js';
import { loadNatsSecurity, loadSecurityConfig, type NatsSecurityConfig } from './security.js';

/** gRPC TLS, the bearer token and the health port (security.ts). */
export const tlsPiece = (service: string) => loaderPiece((env) => loadSecurityConfig(service, env));

/** The SM_NAS_MAX_* limits (limits.ts). */
export const limitsPiece = () => loaderPiece(loadLimits);

/** NATS_URL and the NATS credentials and TLS (security.ts); `requiredFor` as in natsUrlPiece. */
export function natsPiece(options: { requiredFor: string }): ConfigPiece<{ url: string; security: NatsSecurityConfig | undefined }>;
export function natsPiece(options?: { requiredFor?: undefined }): ConfigPiece<{ url: string | undefined; security: NatsSecurityConfig | undefined }>;
export function natsPiece(options: { requiredFor?: string | undefined } = {}): ConfigPiece<{ url: string | undefined; security: NatsSecurityConfig | undefined }> {
  const url = options.requiredFor === undefined ? natsUrlPiece() : natsUrlPiece({ requiredFor: options.requiredFor });
  return configSchema({ url, security: loaderPiece(loadNatsSecurity) });
}

/** `SM_NAS_DEVICE_LOCK`: the lock file of a device shared with another process (device-lock.ts). */
export const deviceLockPiece = () =>
  envPiece({ [DEVICE_LOCK_ENV]: z.string().min(1).optional() }, (v) => v[DEVICE_LOCK_ENV] as string | undefined);

/** What every gRPC service reads: its listen address, telemetry, TLS and the limits. */
export function servicePieces(service: PortedService) {
  return {
    listen: listenPiece(service, DEFAULT_PORTS[service]),
    telemetry: telemetryPiece(service),
    security: tlsPiece(service),
    limits: limitsPiece(),
  };
}

/** The tfjs backend's variable names and choices, as @sm-nas/tfjs-runtime defines them. */
export interface TfjsBackendVariables<C extends string> {
  backend: string;
  choices: readonly [C, ...C[]];
  /** The choice when the backend variable is unset. */
  defaultBackend: C;
  threads: string;
  wasmThreads: string;
  webgpuAdapter: string;
  native: string;
  /** Values of `native` that turn the native kernels off. */
  nativeOff: readonly string[];
}

/** The tfjs backend's settings, for initBackend; undefined fields take the backend's defaults. */
export interface TfjsBackendSettings<C extends string = string> {
  backend: C;
  threads: number | undefined;
  wasmThreads: number | undefined;
  webgpuAdapter: string | undefined;
  /** False when the native kernels are turned off (`SM_NAS_NATIVE=0`). */
  nativeKernels: boolean;
}

const NATIVE_ON = ['1', 'true', 'on', 'yes'];

/**
 * The tfjs backend's variables, checked at start so a bad one stops the service instead of failing
 * its first training or measurement. Names and choices come from @sm-nas/tfjs-runtime (its
 * TFJS_BACKEND_VARIABLES), which this package does not depend on.
 */
export function tfjsBackendPiece<C extends string>(vars: TfjsBackendVariables<C>): ConfigPiece<TfjsBackendSettings<C>> {
  const choice = z
    .string()
    .transform((s) => s.trim().toLowerCase())
    .pipe(z.enum(vars.choices as unknown as [C, ...C[]], { errorMap: () => ({ message: `one of ${vars.choices.join('|')}` }) }));
  const threads = (what: string) => z.string().regex(/^\s*[1-9]\d*\s*$/, what).transform(Number);
  const native = z
    .string()
    .transform((s) => s.trim().toLowerCase())
    .refine((s) => vars.nativeOff.includes(s) || NATIVE_ON.includes(s), `0 to turn the native kernels off, 1 to leave them on (or ${[...vars.nativeOff, ...NATIVE_ON].join('|')})`);
  return envPiece(
    {
      [vars.backend]: choice.optional(),
      [vars.threads]: threads('a positive number of threads').optional(),
      [vars.wasmThreads]: threads("a positive number of threads for the wasm backend's pool").optional(),
      [vars.webgpuAdapter]: z.string().trim().min(1, 'a WebGPU adapter name').optional(),
      [vars.native]: native.optional(),
    },
    (v) => ({
      backend: (v[vars.backend] as C | undefined) ?? vars.defaultBackend,
      threads: v[vars.threads] as number | undefined,
      wasmThreads: v[vars.wasmThreads] as number | undefined,
      webgpuAdapter: v[vars.webgpuAdapter] as string | undefined,
      nativeKernels: !vars.nativeOff.includes((v[vars.native] as string | undefined) ?? ''),
    }),
  );
}
