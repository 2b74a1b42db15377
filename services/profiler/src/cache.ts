// Measurements by (architecture id, hardware class, input size, batch, backend version, measurement
// settings), in the JetStream KV bucket `nas-latency-cache` so they outlive any profiler and any
// restart of the mesh: the same candidate is never timed twice on the same hardware the same way.
// The settings are part of the identity because they change the numbers (a 3-second profile of
// five-iteration rounds is not the 60-second one of twenty); a request asking for other settings is
// measured again rather than handed a measurement it did not ask for. Keys start with the class's
// subject token so one class's measurements can be listed (the predictor's training set).
import { createHash } from 'node:crypto';
import { hardwareClassToken, jsonCodec, KV_BUCKETS, type Bus, type TypedKv } from '@sm-nas/bus';
import type { InputSize } from '@sm-nas/arch';
import type { MeasureSettings } from './measure.js';

export interface CacheKeyParts {
  architectureId: string;
  hardwareClass: string;
  input: InputSize;
  batch: number;
  backendVersion: string;
  /** As the measurement ran, request defaults resolved (0 and the default it means are one key). */
  settings: MeasureSettings;
}

/** What is stored: the request's identity (the canonical architecture, for the predictor) and the response as JSON. */
export interface CachedMeasurement {
  canonical: string;
  batch: number;
  hardwareClass: string;
  backendVersion: string;
  /** The settings it was measured with (absent in records stored before they were part of the key). */
  settings?: MeasureSettings;
  /** nas.profiler.v1.ProfileResponse in its proto3 JSON form. */
  response: unknown;
}

/**
 * `<class token>.<architecture id>.<hash of input, batch, backend version, settings>`: KV-safe
 * characters only. Every field of MeasureSettings goes in, listed by name so that a new setting
 * cannot be left out without the compiler saying so.
 */
export function cacheKey(parts: CacheKeyParts): string {
  const s = parts.settings;
  const settings: { [K in keyof Required<MeasureSettings>]: MeasureSettings[K] } = {
    targetCv: s.targetCv,
    maxSeconds: s.maxSeconds,
    iterationsPerRound: s.iterationsPerRound,
    minWarmup: s.minWarmup,
    maxWarmup: s.maxWarmup,
    settleWindow: s.settleWindow,
    settleTolerance: s.settleTolerance,
  };
  const rest = createHash('sha256')
    .update(JSON.stringify([parts.input.widthPx, parts.input.heightPx, parts.batch, parts.backendVersion, Object.values(settings)]))
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

/**
 * The KV cache with a fallback: a measurement is never lost to a NATS outage. A failed read is a
 * miss (the candidate is measured rather than the request failing); a failed write keeps the
 * measurement in memory, where reads find it, and every later call tries to write it again. Each
 * failed call is reported through `onError`.
 */
export class ResilientLatencyCache implements LatencyCache {
  private readonly unsaved = new Map<string, CachedMeasurement>();
  private flushing: Promise<void> | undefined;

  constructor(
    private readonly primary: LatencyCache,
    private readonly onError: (operation: 'get' | 'put' | 'list', err: unknown) => void,
  ) {}

  async get(key: string) {
    const local = this.unsaved.get(key);
    if (local) {
      // Answer now; the write waits for NATS in the background.
      void this.flush('get');
      return local;
    }
    try {
      return await this.primary.get(key);
    } catch (err) {
      this.onError('get', err);
      return undefined;
    }
  }

  async put(key: string, value: CachedMeasurement) {
    this.unsaved.set(key, value);
    await this.flush('put');
  }

  async list(hardwareClass: string) {
    await this.flush('list');
    const prefix = `${hardwareClassToken(hardwareClass)}.`;
    const local = [...this.unsaved].filter(([k]) => k.startsWith(prefix)).map(([, v]) => v);
    try {
      return [...(await this.primary.list(hardwareClass)), ...local];
    } catch (err) {
      this.onError('list', err);
      return local;
    }
  }

  /** Measurements not yet in the primary cache (what an outage left in memory). */
  get pending(): number {
    return this.unsaved.size;
  }

  /** Writes what is kept in memory; concurrent callers share one attempt. */
  private flush(operation: 'get' | 'put' | 'list'): Promise<void> {
    this.flushing ??= (async () => {
      try {
        for (const [key, value] of [...this.unsaved]) {
          await this.primary.put(key, value);
          if (this.unsaved.get(key) === value) this.unsaved.delete(key);
        }
      } catch (err) {
        this.onError(operation, err);
      } finally {
        this.flushing = undefined;
      }
    })();
    return this.flushing;
  }
}
