// Tests that need a real component call these first: a missing service is a
// failing test with a clear message, never a skipped one.
import { connect } from "node:net";

export interface ServiceAddress {
  name: string;
  host: string;
  port: number;
  hint: string;
}

export const postgres: ServiceAddress = {
  name: "PostgreSQL",
  host: "127.0.0.1",
  port: 5432,
  hint: "bash .ci/ensure-services starts it",
};
export const mariadb: ServiceAddress = {
  name: "MariaDB",
  host: "127.0.0.1",
  port: 3306,
  hint: "bash .ci/ensure-services starts it",
};
export const redis: ServiceAddress = {
  name: "Redis",
  host: "127.0.0.1",
  port: 6379,
  hint: "bash .ci/ensure-services starts it",
};
export const nats: ServiceAddress = {
  name: "NATS",
  host: "127.0.0.1",
  port: 4222,
  hint: "bash .ci/ensure-services starts it",
};

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
