/**
 * The address a server is known by, when it is not the one it binds: behind
 * NAT or in a container, it listens on a wildcard (0.0.0.0, ::) and
 * advertises the address others reach it at (memberlist's AdvertiseAddr,
 * Cassandra's broadcast_address). Ring names are "IP:PORT", which the
 * original can dial too, so a host name is resolved here, once.
 */
import { CoopError } from '../errors.js';
import { isWildcard, parseHostPort, type HostPort } from '../protocol/address.js';
import { resolveHost } from '../ring/joiner.js';

/** The advertised host (an IP) and port (undefined: the bound one); undefined without `advertise`. */
export async function advertisedAddress(
  advertise: string | undefined,
  listenHost: string,
): Promise<{ host: string; port: number | undefined } | undefined> {
  if (advertise === undefined) {
    if (isWildcard(listenHost)) {
      throw new CoopError(
        'BAD_ADDRESS',
        `cannot listen on the wildcard ${listenHost} without an advertised address: other servers need one to reach this one (give --advertise HOST:PORT, or listen on one concrete address)`,
      );
    }
    return undefined;
  }
  let spec: HostPort;
  try {
    spec = parseHostPort(advertise, 0);
  } catch {
    throw new CoopError('BAD_ADDRESS', `not an address to advertise (HOST or HOST:PORT): ${JSON.stringify(advertise)}`);
  }
  let host: string;
  try {
    host = await resolveHost(spec.host);
  } catch (err) {
    throw new CoopError('BAD_ADDRESS', `cannot resolve the advertised host name ${JSON.stringify(spec.host)}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (isWildcard(host))
    throw new CoopError('BAD_ADDRESS', `cannot advertise the wildcard ${host}: give the address others reach this server at`);
  return { host, port: spec.port === 0 ? undefined : spec.port };
}
