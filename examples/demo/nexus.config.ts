// The demo `npm start` runs: three services behind the gateway on 127.0.0.1:8080.
import { defineConfig } from "../../src/orchestrator/index.ts";

export default defineConfig({
  services: {
    users: { entry: "./services/users.ts", instances: 2 },
    products: { entry: "./services/products.ts" },
    storefront: {
      entry: "./services/storefront.ts",
      dependsOn: ["users", "products"],
      onDemand: { idleMs: 60_000 },
    },
  },
  gateway: { host: "127.0.0.1", port: 8080 },
  logs: { dir: ".nexus/logs" },
  hints: [
    `curl -H "Authorization: Bearer $(npx node bin/nexus.ts token)" '{gateway}/storefront/home?id=1'`,
    `npx node bin/nexus.ts call users GET /user --data '{"id":2}'`,
    `echo '{"path":"/products","method":"GET"}' | socat - UNIX-CONNECT:{socketDir}/products.sock`,
    "npx node bin/nexus.ts status",
  ],
});
