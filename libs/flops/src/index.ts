export { countFlops, countGraphFlops, SummingSink, type FlopsReport, type ModuleFlops } from './count.js';
export { convMultiplyAdds, convParams, linearParams, normParams, nodeMultiplyAdds, nodeParams } from './cost.js';
