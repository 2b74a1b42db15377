// Handlers of nas.profiler.v1.ProfilerService over the Profiler; and the NATS responder that serves
// the same Profiler on this class's subject, in the class's queue group.
import { latencyMeasured, profileRequest, profileRequestFor, profileResponseCodec, profilerQueueGroup, hardwareClassToken, BusRequestError, type Bus, type Subscription } from '@sm-nas/bus';
import type { profiler } from '@sm-nas/proto';
import { DomainError, type DomainStatusCode } from '@sm-nas/service-kit';
import type { ServiceImplementation } from 'nice-grpc';
import type { Profiler } from './profiler.js';

export function profilerService(p: Profiler): ServiceImplementation<typeof profiler.ProfilerServiceDefinition> {
  return {
    describe: async () => p.describe(),
    profile: (request, context) => p.profile(request, context.signal),
    predictLatency: (request) => p.predict(request),
  };
}

/** Answers ProfileRequests sent to this profiler's class (and only those); one of the class's profilers takes each. */
export function serveProfileRequests(bus: Bus, p: Profiler): Subscription {
  const hardwareClass = p.hardware.hardwareClass;
  return bus.serve(profileRequest, profileResponseCodec, (request) => p.profile(request), {
    params: { hardwareClass },
    queue: profilerQueueGroup(hardwareClass),
  });
}

/** Publishes each new measurement on `nas.profile.measured.<class token>` (fire and forget). */
export function publishMeasurements(bus: Bus): (response: profiler.ProfileResponse) => Promise<void> {
  return (response) =>
    bus.publish(latencyMeasured.to({ hardwareClass: hardwareClassToken(response.hardwareClass) }), {
      architectureId: response.architectureId,
      hardwareClass: response.hardwareClass,
      input: response.input,
      latency: response.latency,
    });
}

/** The default wait for a measurement over NATS: a profile may queue behind others. */
export const PROFILE_REQUEST_TIMEOUT_MS = 10 * 60_000;

/**
 * Sends a ProfileRequest to its class's profilers over NATS. A class nobody serves fails at once
 * with UNAVAILABLE (NATS answers "no responders"), a malformed class with INVALID_ARGUMENT; the
 * profiler's own errors come back with their codes. Errors are DomainErrors, so a gRPC handler
 * that calls this rethrows them with the right status.
 */
export async function requestProfile(bus: Bus, request: profiler.ProfileRequest, timeoutMs = PROFILE_REQUEST_TIMEOUT_MS): Promise<profiler.ProfileResponse> {
  let destination: ReturnType<typeof profileRequestFor>;
  try {
    destination = profileRequestFor(request.hardwareClass);
  } catch (err) {
    throw new DomainError('INVALID_ARGUMENT', `hardware_class: ${(err as Error).message.replace(/^hardware class: /, '')}`);
  }
  try {
    return await bus.request(destination, request, { reply: profileResponseCodec, timeoutMs });
  } catch (err) {
    if (err instanceof BusRequestError) {
      const message = err.code === 'UNAVAILABLE' ? `hardware_class: no profiler serves ${request.hardwareClass}` : err.message;
      throw new DomainError(err.code as DomainStatusCode, message, { cause: err });
    }
    throw err;
  }
}
