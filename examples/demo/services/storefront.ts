// A service that calls others: `GET /home` with `{id}` greets a user with the
// catalogue, asking users and products over their sockets. It runs on demand:
// started by its first call, stopped after a minute without one.
import { z } from "zod";
import { defineService } from "../../../src/service/index.ts";
import type products from "./products.ts";
import type users from "./users.ts";

export default defineService({ name: "storefront" }).route(
  "GET /home",
  { input: z.object({ id: z.coerce.number().int().positive() }) },
  async ({ data, client, signal }) => {
    const [user, catalogue] = await Promise.all([
      client
        .service<typeof users>("users")
        .call("GET /user", { data: { id: data.id } }, { signal }),
      client.service<typeof products>("products").call("GET /products", undefined, { signal }),
    ]);
    return { greeting: `Welcome back, ${user.name}`, products: catalogue };
  },
);
