// The nats-server launcher lives in the main entry too (the CLI's local mesh uses it); tests
// import it from here.
export { freePort, natsServerBinary, startNatsServer, type NatsServer, type NatsServerOptions } from '../nats-server.js';
