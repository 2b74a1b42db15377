// Handlers of nas.controller.v1.ControllerService: thin, over the Controller's journal-backed state.
import type { controller } from '@sm-nas/proto';
import type { TerminatorContext } from '@sm-nas/service-kit';
import type { CallContext, ServiceImplementation } from 'nice-grpc';
import type { Controller } from './controller.js';
import { searchMessage } from './state.js';

export function controllerService(
  ctl: Controller,
): ServiceImplementation<typeof controller.ControllerServiceDefinition, TerminatorContext> {
  return {
    async createSearch(request) {
      return { search: await ctl.create(request) };
    },
    async getSearch(request) {
      return { search: searchMessage(ctl.get(request.searchId)) };
    },
    async listSearches(request) {
      return ctl.listSearches(request);
    },
    async *watchSearch(request, context: CallContext & TerminatorContext) {
      // A watch is a long-lived stream: end it when the server shuts down.
      context.abortOnTerminate();
      yield* ctl.watch(request, context.signal);
    },
    async listCandidates(request) {
      return ctl.listCandidates(request);
    },
    async getParetoFront(request) {
      return { front: ctl.front(request) };
    },
    async stopSearch(request) {
      return { search: await ctl.stop(request) };
    },
    async resumeSearch(request) {
      return { search: await ctl.resume(request) };
    },
    async deleteSearch(request) {
      await ctl.delete(request);
      return {};
    },
  };
}
