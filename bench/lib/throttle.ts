// A TCP proxy on 127.0.0.1 that limits every connection to `bytesPerSec` from the server to the client: a
// registry whose blobs arrive at a bounded rate per connection (as from a distant or busy registry), so that
// fetching layers over several connections at once can be told apart from fetching them one by one. The
// loopback registry alone serves at memory speed and hides the difference.
import { createConnection, createServer, type Socket } from 'node:net';

export interface Throttle {
  /** `127.0.0.1:<port>` */
  host: string;
  /** Connections opened so far, and the most that were open at once. */
  stats(): { connections: number; maxOpen: number; bytes: number };
  close(): Promise<void>;
}

export async function startThrottle(target: string, bytesPerSec: number): Promise<Throttle> {
  const [thost, tport] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  const sockets = new Set<Socket>();
  let connections = 0;
  let open = 0;
  let maxOpen = 0;
  let bytes = 0;
  const server = createServer((client) => {
    connections++;
    open++;
    maxOpen = Math.max(maxOpen, open);
    const upstream = createConnection({ host: thost, port: tport });
    sockets.add(client).add(upstream);
    // The time at which the bytes sent so far on this connection may have been delivered at the limit.
    let due = performance.now();
    upstream.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      client.write(chunk);
      due = Math.max(due, performance.now()) + (chunk.length / bytesPerSec) * 1000;
      const wait = due - performance.now();
      if (wait > 1) {
        upstream.pause();
        setTimeout(() => upstream.resume(), wait);
      }
    });
    client.pipe(upstream);
    // Ends are passed on gracefully (data already written to the client is still delivered); the connection is
    // counted closed when the client side closes.
    upstream.on('end', () => client.end());
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    client.on('close', () => {
      sockets.delete(client);
      sockets.delete(upstream);
      open--;
      upstream.destroy();
    });
  });
  await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
  const port = (server.address() as { port: number }).port;
  return {
    host: `127.0.0.1:${port}`,
    stats: () => ({ connections, maxOpen, bytes }),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((res) => server.close(() => res()));
    },
  };
}
