export {
  BACKEND_ENV,
  THREADS_ENV,
  backendInfo,
  describeBackend,
  initBackend,
  parseBackendChoice,
  type BackendChoice,
  type BackendInfo,
  type InitBackendOptions,
} from './backend.js';
export { WASM_GRAD_KERNELS, gradKernelConfigs, registerWasmKernels } from './kernels/register.js';
