// A small users service and a temporary socket directory for the mesh tests.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { z } from "zod";
import { defineService, type ServiceDefinition, ServiceError } from "../../src/service/index.ts";
import {
  Client,
  type ClientOptions,
  type ServeOptions,
  type ServiceServer,
  serve,
} from "../../src/transport/index.ts";

export const TOKEN = "test-token-0123456789";
export const silent = pino({ level: "silent" });

interface User {
  id: number;
  name: string;
  email: string;
}

export const users = defineService({
  name: "users",
  dependencies: () => ({
    store: new Map<number, User>([[1, { id: 1, name: "Ada", email: "ada@example.com" }]]),
  }),
})
  .route("GET /health", { public: true }, () => ({ ok: true }))
  .route("GET /user/:id", ({ params, deps }) => {
    const user = deps.store.get(Number(params.id));
    if (user === undefined) throw new ServiceError("NOT_FOUND", `no user ${params.id}`);
    return user;
  })
  .route(
    "POST /user",
    {
      input: z.object({
        name: z.string().min(1),
        email: z.email(),
        tags: z.array(z.string()).optional(),
      }),
    },
    ({ data, deps }) => {
      const user = { id: deps.store.size + 1, name: data.name, email: data.email };
      deps.store.set(user.id, user);
      return user;
    },
  )
  .route("POST /echo", ({ data }) => data)
  .route("GET /boom", () => {
    throw new Error("database password is hunter2");
  })
  .route(
    "GET /never",
    ({ signal }) =>
      new Promise((_, reject) => signal.addEventListener("abort", () => reject(signal.reason))),
  )
  .route("GET /slow/:ms", async ({ params }) => {
    await new Promise((resolve) => setTimeout(resolve, Number(params.ms)));
    return { waited: Number(params.ms) };
  })
  .route("DELETE /user/:id", ({ params, deps }) => {
    deps.store.delete(Number(params.id));
  });

export interface Mesh extends AsyncDisposable {
  readonly dir: string;
  /** Serves a definition in this directory with the test token; closed on dispose. */
  // biome-ignore lint/suspicious/noExplicitAny: serves a definition of any dependencies and routes
  serve(definition: ServiceDefinition<any, any>, options?: ServeOptions): Promise<ServiceServer>;
  client(options?: ClientOptions): Client;
}

/** A fresh socket directory; servers and clients made through it are closed, and it is removed, on dispose. */
export async function tempMesh(): Promise<Mesh> {
  const dir = await mkdtemp(join(tmpdir(), "nexus-mesh-"));
  const servers: ServiceServer[] = [];
  const clients: Client[] = [];
  return {
    dir,
    async serve(definition, options = {}) {
      const server = await serve(definition, {
        socketDir: dir,
        token: TOKEN,
        log: silent,
        ...options,
      });
      servers.push(server);
      return server;
    },
    client(options = {}) {
      const client = new Client({ socketDir: dir, token: TOKEN, log: silent, ...options });
      clients.push(client);
      return client;
    },
    async [Symbol.asyncDispose]() {
      await Promise.all(servers.map((server) => server.close()));
      await Promise.all(clients.map((client) => client.close()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
