/** The library: servers, a client, and the in-process cluster used by tests and demos. */
export { RingNode, DEFAULTS, type NodeOptions, type PeerTransport } from './node/node.js';
export { createTestCluster, agreedRing, type TestCluster } from './node/cluster.js';
export { getItem, putItem, putBytes, fetchParts, deleteItem, getRing, encodeContent, decodeContent, type Lookup } from './client/client.js';
export { ItemStore, type ItemMeta } from './store/items.js';
export { compareVersions, type Version } from './store/version.js';
export { createLogger, type Log } from './log/logger.js';
export { CoopError, type ErrorCode } from './errors.js';
export { waitFor } from './util/wait.js';
