import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { RouteTable } from "../../src/gateway/route-table.ts";

const table = new RouteTable([
  { prefix: "/users", service: "users", public: false },
  { prefix: "/users/admin/", service: "admin", public: false },
  { prefix: "/api/v1", service: "api", public: true },
]);

test("the longest prefix wins, on segment boundaries, and the rest goes to the service", () => {
  const cases: [string, string | undefined, string | undefined][] = [
    ["/users", "users", "/"],
    ["/users/", "users", "/"],
    ["/users/user?id=1", "users", "/user?id=1"],
    ["/users?id=1", "users", "/?id=1"],
    ["/usersx/1", undefined, undefined],
    ["/users/admin/keys", "admin", "/keys"],
    ["/users/administrator", "users", "/administrator"],
    ["/api/v1/things/2#top", "api", "/things/2#top"],
    ["/api", undefined, undefined],
    ["/", undefined, undefined],
  ];
  for (const [target, service, path] of cases) {
    const match = table.match(target);
    assert.equal(match?.route.service, service, target);
    assert.equal(match?.servicePath, path, target);
  }
});

test("a catch-all route takes what no other prefix does", () => {
  const withRoot = new RouteTable([
    { prefix: "/", service: "web", public: true },
    { prefix: "/users", service: "users", public: false },
  ]);
  assert.equal(withRoot.match("/index.html")?.route.service, "web");
  assert.equal(withRoot.match("/users/1")?.route.service, "users");
});

test("any request target is matched without throwing; service paths start with /", () => {
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.webPath(), fc.webUrl()), (target) => {
      const match = table.match(target);
      if (match) assert.ok(match.servicePath.startsWith("/"));
    }),
    { numRuns: 500 },
  );
});
