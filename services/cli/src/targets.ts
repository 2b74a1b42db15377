import { flops, searchspace } from '@sm-nas/proto';
import { startFlopsServer } from '@sm-nas/flops-service';
import { startSearchSpaceServer } from '@sm-nas/searchspace';
import type { ServiceTarget } from './client.js';

export const searchSpaceTarget: ServiceTarget<typeof searchspace.SearchSpaceServiceDefinition> = {
  definition: searchspace.SearchSpaceServiceDefinition,
  addrEnv: 'SEARCHSPACE_ADDR',
  startLocal: startSearchSpaceServer,
};

export const flopsTarget: ServiceTarget<typeof flops.FlopsServiceDefinition> = {
  definition: flops.FlopsServiceDefinition,
  addrEnv: 'FLOPS_ADDR',
  startLocal: startFlopsServer,
};
