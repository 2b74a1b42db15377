export { MESH_SERVICES, meshServices, startLocalMesh, type LocalMesh, type LocalMeshOptions, type MeshService } from './mesh.js';
