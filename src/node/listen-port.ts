/**
 * Which port a server probes from, and whether its bound port may be
 * advertised. Servers started together on one host, each naming the one
 * before it as its seed, must not take their seed's port while that seed is
 * still starting: a server probing upward starts above the highest seed on
 * its own address (the second server, seed :4043, takes 4044 or higher), as
 * the original does when started by hand. Pure.
 */
import { CoopError } from '../errors.js';
import { formatAddress, type HostPort } from '../protocol/address.js';

/** The first port to try: `port`, or above the highest seed at one of `ownHosts` (IPs). */
export function firstPortToProbe(port: number, ownHosts: readonly string[], seeds: readonly HostPort[]): number {
  const below = seeds.filter((seed) => ownHosts.includes(seed.host)).map((seed) => seed.port + 1);
  return Math.min(65535, Math.max(port, ...below));
}

/**
 * An advertised port names the server there: when probing moved this server
 * off the port asked for, that port is another server's, and advertising it
 * would send the ring to the wrong one.
 */
export function checkAdvertisedPort(
  advertised: { host: string; port: number | undefined } | undefined,
  asked: number,
  bound: HostPort,
): void {
  if (advertised?.port === undefined || bound.port === asked) return;
  throw new CoopError(
    'BAD_ADDRESS',
    `--advertise names port ${advertised.port}, but port ${asked} was taken and this server bound ${formatAddress(bound.host, bound.port)}: ` +
      `advertising ${formatAddress(advertised.host, advertised.port)} would name another server. ` +
      'Give --listen an explicit free port, or --advertise without a port (the bound one is used then)',
  );
}
