// Measurements by (architecture id, hardware class, input size, batch, backend version), in the
// JetStream KV bucket `nas-latency-cache` so they outlive any profiler and any restart of the
// mesh: the same candidate is never timed twice on the same hardware. Keys start with the class's
// subject token so one class's measurements can be listed (the predictor's training set).
import { createHash } from 'node:crypto';
import { hardwareClassToken, jsonCodec, KV_BUCKETS, type Bus, type TypedKv } from '@sm-nas/bus';
import type { InputSize } from '@sm-nas/arch';

export interface CacheKeyParts {
  architectureId: string;
  hardwareClass: string;
  input: InputSize;
  batch: number;
  backendVersion: string;
}

/** What is stored: the request's identity (the canonical architecture, for the predictor) and the response as JSON. */
export interface CachedMeasurement {
  canonical: string;
  batch: number;
  hardwareClass: string;
  backendVersion: string;
  /** nas.profiler.v1.ProfileResponse in its proto3 JSON form. */
  response: unknown;
}

/** `<class token>.<architecture id>.<hash of input, batch, backend version>`: KV-safe characters only. */
export function cacheKey(parts: CacheKeyParts): string {
  const rest = createHash('sha256')
    .update(JSON.stringify([parts.input.widthPx, parts.input.heightPx, parts.batch, parts.backendVersion]))
    .digest('hex')
    .slice(0, 16);
  return `${hardwareClassToken(parts.hardwareClass)}.${parts.architectureId}.${rest}`;
}

export interface LatencyCache {
  get(key: string): Promise<CachedMeasurement | undefined>;
  put(key: string, value: CachedMeasurement): Promise<void>;
  /** Every measurement of one hardware class. */
  list(hardwareClass: string): Promise<CachedMeasurement[]>;
}

/** Without NATS (a profiler on its own): measurements live as long as the process. */
export class MemoryLatencyCache implements LatencyCache {
  private readonly entries = new Map<string, CachedMeasurement>();
  async get(key: string) {
    return this.entries.get(key);
  }
  async put(key: string, value: CachedMeasurement) {
    this.entries.set(key, value);
  }
  async list(hardwareClass: string) {
    const prefix = `${hardwareClassToken(hardwareClass)}.`;
    return [...this.entries].filter(([k]) => k.startsWith(prefix)).map(([, v]) => v);
  }
}

export class KvLatencyCache implements LatencyCache {
  private constructor(private readonly kv: TypedKv<CachedMeasurement>) {}

  static async open(bus: Bus, bucket: string = KV_BUCKETS.latencyCache): Promise<KvLatencyCache> {
    return new KvLatencyCache(await bus.kv(bucket, jsonCodec<CachedMeasurement>(), { history: 1 }));
  }

  get(key: string) {
    return this.kv.get(key);
  }
  async put(key: string, value: CachedMeasurement) {
    await this.kv.put(key, value);
  }
  async list(hardwareClass: string) {
    const keys: string[] = [];
    for await (const key of await this.kv.kv.keys(`${hardwareClassToken(hardwareClass)}.>`)) keys.push(key);
    const values = await Promise.all(keys.sort().map((k) => this.kv.get(k)));
    return values.filter((v): v is CachedMeasurement => v !== undefined);
  }
}
