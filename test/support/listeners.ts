import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';

/**
 * A TCP listener on the loopback that counts connections, accepts them and never
 * answers: a receiver that is "up" but dead, and a witness that nothing connected.
 */
export interface SilentListener {
  port: number;
  connections(): number;
  close(): Promise<void>;
}

export async function silentListener(host = '127.0.0.1'): Promise<SilentListener> {
  const sockets = new Set<Socket>();
  let count = 0;
  const server: Server = createServer((socket) => {
    count += 1;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, host, () => resolve()));
  return {
    port: (server.address() as AddressInfo).port,
    connections: () => count,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
