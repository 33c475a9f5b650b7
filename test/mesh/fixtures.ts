// A small users service and a temporary socket directory for the mesh tests.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { z } from "zod";
import { defineService, ServiceError } from "../../src/service/index.ts";
import { Client, type ClientOptions, type ServeOptions, serve } from "../../src/transport/index.ts";

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
  client(options?: ClientOptions): Client;
}

/** A fresh socket directory; everything made through it is closed and removed on dispose. */
export async function tempMesh(): Promise<Mesh> {
  const dir = await mkdtemp(join(tmpdir(), "nexus-mesh-"));
  const clients: Client[] = [];
  return {
    dir,
    client(options = {}) {
      const client = new Client({ socketDir: dir, token: TOKEN, log: silent, ...options });
      clients.push(client);
      return client;
    },
    async [Symbol.asyncDispose]() {
      await Promise.all(clients.map((client) => client.close()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export function serveOptions(mesh: Mesh, options: ServeOptions = {}): ServeOptions {
  return { socketDir: mesh.dir, token: TOKEN, log: silent, ...options };
}

export { serve };
