// The demo `npm start` runs: three services behind the gateway on 127.0.0.1:8080
// and the edge proxy on 127.0.0.1:8081, where storefront.localhost wakes the
// on-demand storefront service.
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
  proxy: { listeners: [{ host: "127.0.0.1", port: 8081 }] },
  logs: { dir: ".nexus/logs" },
  hints: [
    `curl -i -H "Authorization: Bearer $(npx node bin/nexus.ts token)" 'http://storefront.localhost:8081/home?id=1'`,
    `curl -H "Authorization: Bearer $(npx node bin/nexus.ts token)" '{gateway}/storefront/home?id=1'`,
    `npx node bin/nexus.ts call users GET /user --data '{"id":2}'`,
    `echo '{"path":"/products","method":"GET"}' | socat - UNIX-CONNECT:{socketDir}/products.sock`,
    "npx node bin/nexus.ts status",
  ],
});
