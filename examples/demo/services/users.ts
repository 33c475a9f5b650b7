// The home service of the original demo: `GET /user` with `{id}` answers a user.
import { z } from "zod";
import { defineService, ServiceError } from "../../../src/service/index.ts";

const users = new Map([
  [1, { id: 1, name: "Ada Lovelace", email: "ada@example.com" }],
  [2, { id: 2, name: "Alan Turing", email: "alan@example.com" }],
]);

export default defineService({ name: "users" }).route(
  "GET /user",
  // Query strings arrive as text, so the id is coerced.
  { input: z.object({ id: z.coerce.number().int().positive() }) },
  ({ data, log }) => {
    const user = users.get(data.id);
    if (user === undefined) throw new ServiceError("NOT_FOUND", `no user ${data.id}`);
    log.info({ id: data.id }, "user looked up");
    return user;
  },
);
