import assert from "node:assert/strict";
import { test } from "node:test";
import { localExtensions, relayedExtensions } from "../../src/proxy/smtp/extensions.ts";

test("a backend's extensions pass when a byte relay carries them; STARTTLS and others do not", () => {
  const backendEhlo = {
    code: 250,
    lines: [
      "backend.test greets a.test",
      "SIZE 10485760",
      "PIPELINING",
      "CHUNKING",
      "BINARYMIME",
      "auth PLAIN LOGIN",
      "STARTTLS",
      "XCLIENT NAME ADDR",
      "ETRN",
    ],
  };
  assert.deepEqual(relayedExtensions(backendEhlo), [
    "SIZE 10485760",
    "PIPELINING",
    "CHUNKING",
    "BINARYMIME",
    "auth PLAIN LOGIN",
  ]);
});

test("alone, the proxy offers what it implements, STARTTLS only with a certificate", () => {
  assert.deepEqual(localExtensions({ maxMessageSize: 0, startTls: false }), [
    "SIZE",
    "8BITMIME",
    "PIPELINING",
    "ENHANCEDSTATUSCODES",
  ]);
  assert.deepEqual(localExtensions({ maxMessageSize: 2048, startTls: true }), [
    "SIZE 2048",
    "8BITMIME",
    "PIPELINING",
    "ENHANCEDSTATUSCODES",
    "STARTTLS",
  ]);
});
