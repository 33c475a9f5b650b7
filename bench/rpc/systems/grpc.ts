// The gRPC peer: @grpc/grpc-js over a Unix socket (`unix:` address), the
// service described in users.proto and loaded by @grpc/proto-loader. One
// channel is one HTTP/2 connection: 64 in flight are 64 concurrent streams.

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  credentials,
  type GrpcObject,
  loadPackageDefinition,
  Server,
  ServerCredentials,
  type ServerUnaryCall,
  type ServiceClientConstructor,
  type ServiceError,
  type sendUnaryData,
} from "@grpc/grpc-js";
import { loadSync } from "@grpc/proto-loader";
import { type BenchSystem, REQUEST, replyTo, type User } from "../system.ts";

const PROTO = fileURLToPath(new URL("./users.proto", import.meta.url));

interface UsersClient {
  GetUser(
    request: { id: number },
    callback: (error: ServiceError | null, reply: User) => void,
  ): void;
  waitForReady(deadline: Date, callback: (error?: Error) => void): void;
  close(): void;
}

function usersService(): ServiceClientConstructor {
  const bench = loadPackageDefinition(loadSync(PROTO, { keepCase: true })).bench as GrpcObject;
  return bench.Users as ServiceClientConstructor;
}

export const grpc: BenchSystem = {
  name: "grpc",
  label: "@grpc/grpc-js (Unix socket)",
  concurrency: "HTTP/2 streams on one connection",
  expectedReply: replyTo(REQUEST),
  async serve(dir) {
    const path = join(dir, "grpc.sock");
    const server = new Server();
    server.addService(usersService().service, {
      GetUser(call: ServerUnaryCall<{ id: number }, User>, callback: sendUnaryData<User>) {
        callback(null, replyTo(call.request));
      },
    });
    await new Promise<number>((resolve, reject) =>
      server.bindAsync(`unix:${path}`, ServerCredentials.createInsecure(), (error, port) =>
        error ? reject(error) : resolve(port),
      ),
    );
    return {
      address: path,
      close: () => new Promise((resolve) => server.tryShutdown(() => resolve())),
    };
  },
  async connect(address) {
    const Users = usersService();
    const client = new Users(
      `unix:${address}`,
      credentials.createInsecure(),
    ) as unknown as UsersClient;
    await new Promise<void>((resolve, reject) =>
      client.waitForReady(new Date(Date.now() + 10_000), (error) =>
        error ? reject(error) : resolve(),
      ),
    );
    return {
      call: () =>
        new Promise((resolve, reject) =>
          client.GetUser(REQUEST, (error, reply) => (error ? reject(error) : resolve(reply))),
        ),
      close: async () => client.close(),
    };
  },
};
