// The original demo's products service: `GET /products` lists the catalogue.
// It is public: callers need no token.
import { defineService } from "../../../src/service/index.ts";

const catalogue = [
  { sku: "NX-1", name: "Unix socket", price: 0 },
  { sku: "NX-2", name: "Service mesh", price: 42 },
];

export default defineService({ name: "products" }).route(
  "GET /products",
  { public: true },
  () => catalogue,
);
