// Node --import hook: no host name resolves but localhost, as on a machine whose network (or DNS) is down. The
// lookup fails inside the process with Node's own ENOTFOUND, so no query leaves the machine. IP literals
// (127.0.0.1) need no lookup and still connect.
import dns from 'node:dns';
import { syncBuiltinESMExports } from 'node:module';

const lookup = dns.lookup;
const local = (hostname) => hostname === 'localhost';
const notFound = (hostname) =>
  Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND', errno: -3008, syscall: 'getaddrinfo', hostname });

dns.lookup = function offlineLookup(hostname, options, callback) {
  if (local(hostname)) return lookup.apply(this, arguments);
  const cb = typeof options === 'function' ? options : callback;
  process.nextTick(cb, notFound(hostname));
  return {};
};
const promisesLookup = dns.promises.lookup;
dns.promises.lookup = async function offlinePromisesLookup(hostname, options) {
  if (local(hostname)) return promisesLookup.call(this, hostname, options);
  throw notFound(hostname);
};
syncBuiltinESMExports();
