/** The library: servers, a client, and the in-process cluster used by tests and demos. */
export { RingNode, DEFAULTS, type NodeOptions, type PeerTransport } from './node/node.js';
export { createTestCluster, agreedRing, type TestCluster } from './node/cluster.js';
export { getItem, putItem, getRing, encodeContent, decodeContent, type Lookup } from './client/client.js';
export { MemoryStore, type ItemStore, type StoredItem } from './store/store.js';
export { createLogger, type Log } from './log/logger.js';
export { CoopError, type ErrorCode } from './errors.js';
export { waitFor } from './util/wait.js';
