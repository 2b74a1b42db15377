export { freePort, natsServerBinary, startNatsServer, type NatsServer, type NatsServerOptions } from './nats-server.js';
