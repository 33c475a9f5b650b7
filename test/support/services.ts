// Tests that need a real component call these first: a missing service is a
// failing test with a clear message, never a skipped one.
import { connect } from "node:net";

export interface ServiceAddress {
  name: string;
  host: string;
  port: number;
  hint: string;
}

/** A component that `.ci/ensure-services` runs on loopback. */
function ciService(name: string, port: number): ServiceAddress {
  return { name, host: "127.0.0.1", port, hint: "bash .ci/ensure-services starts it" };
}

export const postgres = ciService("PostgreSQL", 5432);
export const mariadb = ciService("MariaDB", 3306);
export const redis = ciService("Redis", 6379);
export const nats = ciService("NATS", 4222);

/** Resolves when the service accepts a TCP connection; rejects with a clear message otherwise. */
export function requireService(service: ServiceAddress, timeoutMs = 3000): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: service.host, port: service.port });
    const fail = (reason: string) => {
      socket.destroy();
      reject(
        new Error(
          `${service.name} is needed on ${service.host}:${service.port} but ${reason} (${service.hint})`,
        ),
      );
    };
    socket.setTimeout(timeoutMs, () => fail("did not answer in time"));
    socket.once("connect", () => {
      socket.end();
      resolve();
    });
    socket.once("error", (err) => fail(err.message));
  });
}
