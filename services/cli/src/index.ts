export { MESH_SERVICES, meshServices, startLocalMesh, stopChild, type LocalMesh, type LocalMeshOptions, type MeshService } from './mesh.js';
