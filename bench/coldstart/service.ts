// The service the cold-start benchmark wakes: a small one, so that what is
// measured beyond its own boot is the orchestrator's and the proxy's share.
import { defineService } from "../../src/service/index.ts";

export default defineService({ name: "greeter" }).route("GET /hello", { public: true }, () => ({
  hello: "world",
  pid: process.pid,
}));
