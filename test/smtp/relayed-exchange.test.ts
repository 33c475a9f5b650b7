import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { RelayedExchange } from "../../src/proxy/smtp/relayed-exchange.ts";
import { splitAt } from "../support/chunks.ts";

function exchange(): RelayedExchange {
  return new RelayedExchange();
}

const client = (watch: RelayedExchange, text: string) => watch.fromClient(Buffer.from(text));
const backend = (watch: RelayedExchange, text: string) => watch.fromBackend(Buffer.from(text));

test("pipelined commands: idle once each has its reply", () => {
  const watch = exchange();
  assert.equal(watch.idle, true);
  client(watch, "MAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nNO");
  backend(watch, "250 OK\r\n250 OK\r\n");
  assert.equal(watch.idle, false, "a line has begun");
  client(watch, "OP\r\n");
  backend(watch, "250-first\r\n");
  assert.equal(watch.idle, false, "a reply has begun");
  backend(watch, "250 last\r\n");
  assert.equal(watch.idle, true);
});

test("a reply line of the code alone ends the reply (RFC 5321 §4.2)", () => {
  const watch = exchange();
  client(watch, "NOOP\r\n");
  backend(watch, "250\r\n");
  assert.equal(watch.idle, true);
});

test("DATA: the message is content up to the line '.', then one reply", () => {
  const watch = exchange();
  client(watch, "DATA\r\n");
  backend(watch, "354 go on\r\n");
  assert.equal(watch.idle, false);
  client(watch, "QUIT\r\n..\r\n.x\r\nlast\r\n");
  assert.equal(watch.idle, false);
  client(watch, ".\r\n");
  assert.equal(watch.idle, false, "the message awaits its reply");
  backend(watch, "250 queued\r\n");
  assert.equal(watch.idle, true);
  // An empty message ends at once: DATA's own CRLF is the first of CRLF.CRLF.
  client(watch, "DATA\r\n");
  backend(watch, "354 go on\r\n");
  client(watch, ".\r\n");
  backend(watch, "250 queued\r\n");
  assert.equal(watch.idle, true);
});

test("a refused DATA leaves the client sending commands", () => {
  const watch = exchange();
  client(watch, "DATA\r\n");
  backend(watch, "554 no valid recipients\r\n");
  assert.equal(watch.idle, true);
  client(watch, "RSET\r\n");
  backend(watch, "250 OK\r\n");
  assert.equal(watch.idle, true);
});

test("BDAT: the chunk's bytes are not lines", () => {
  const watch = exchange();
  client(watch, "BDAT 13 LAST\r\nab\r\n.\r\nQUIT\r\n");
  assert.equal(watch.idle, false);
  backend(watch, "250 13 octets\r\n");
  assert.equal(watch.idle, true);
  client(watch, "BDAT 0 LAST\r\n");
  backend(watch, "250 queued\r\n");
  assert.equal(watch.idle, true);
});

test("BDAT: a message stays open from its first accepted chunk to the reply to LAST", () => {
  const watch = exchange();
  client(watch, "BDAT 5\r\nhello");
  backend(watch, "250 2.0.0 5 octets\r\n");
  assert.equal(watch.idle, false, "between two chunks of one message");
  client(watch, "BDAT 6 LAST\r\n world");
  assert.equal(watch.idle, false);
  backend(watch, "250 2.0.0 queued\r\n");
  assert.equal(watch.idle, true);
});

test("BDAT: a refused chunk, RSET or EHLO ends the message", () => {
  const refused = exchange();
  client(refused, "BDAT 3\r\nabc");
  backend(refused, "250 OK\r\n");
  client(refused, "BDAT 3\r\nabc");
  backend(refused, "552 5.3.4 too big\r\n");
  assert.equal(refused.idle, true);

  for (const command of ["RSET", "EHLO a.test", "HELO a.test"]) {
    const watch = exchange();
    client(watch, "BDAT 3\r\nabc");
    backend(watch, "250 OK\r\n");
    client(watch, `${command}\r\n`);
    assert.equal(watch.idle, false);
    backend(watch, "250 OK\r\n");
    assert.equal(watch.idle, true, command);
  }

  // A refused LAST chunk ends the message too (RFC 3030 §4).
  const last = exchange();
  client(last, "BDAT 3\r\nabc");
  backend(last, "250 OK\r\n");
  client(last, "BDAT 0 LAST\r\n");
  backend(last, "554 5.6.0 rejected\r\n");
  assert.equal(last.idle, true);
});

test("AUTH: not idle from a 334 until the exchange ends; SASL lines are not commands", () => {
  const watch = exchange();
  client(watch, "AUTH LOGIN\r\n");
  backend(watch, "334 VXNlcm5hbWU6\r\n");
  assert.equal(watch.idle, false, "the backend waits for the client's answer");
  // "QUIT" is valid base64: here it is the user name, not the end of the session.
  client(watch, "QUIT\r\n");
  backend(watch, "334 UGFzc3dvcmQ6\r\n");
  assert.equal(watch.idle, false);
  client(watch, "c2VjcmV0\r\n");
  assert.equal(watch.idle, false);
  backend(watch, "235 2.7.0 Authentication successful\r\n");
  assert.equal(watch.idle, true);
  // A cancelled exchange ends with the backend's 501.
  client(watch, "AUTH LOGIN\r\n");
  backend(watch, "334 VXNlcm5hbWU6\r\n");
  client(watch, "*\r\n");
  backend(watch, "501 5.0.0 cancelled\r\n");
  assert.equal(watch.idle, true);
});

test("QUIT: never idle again, answered or not", () => {
  const watch = exchange();
  client(watch, "QUIT\r\n");
  assert.equal(watch.idle, false);
  backend(watch, "221 2.0.0 bye\r\n");
  assert.equal(watch.idle, false);
});

test("after STARTTLS end to end, a reply that is not SMTP or a flood of commands, never idle again", () => {
  const tls = exchange();
  client(tls, "STARTTLS\r\n");
  backend(tls, "220 ready\r\n");
  assert.equal(tls.idle, false);
  tls.fromClient(Buffer.from([22, 3, 1, 0, 5]));
  assert.equal(tls.idle, false);

  const refusedTls = exchange();
  client(refusedTls, "STARTTLS\r\n");
  backend(refusedTls, "454 TLS not available\r\n");
  assert.equal(refusedTls.idle, true);

  const flood = exchange();
  client(flood, "NOOP\r\n".repeat(1001));
  backend(flood, "250 OK\r\n".repeat(1001));
  assert.equal(flood.idle, false);

  const garbled = exchange();
  client(garbled, "NOOP\r\n");
  backend(garbled, "hello?\r\n");
  assert.equal(garbled.idle, false);
  backend(garbled, "250 OK\r\n");
  assert.equal(garbled.idle, false);
});

/** One step of a session: what the client sends, and the replies it waits for. */
type Step =
  | { readonly kind: "command"; readonly line: string }
  | { readonly kind: "data"; readonly lines: readonly string[] }
  | { readonly kind: "bdat"; readonly chunk: Uint8Array; readonly last: boolean }
  | { readonly kind: "auth"; readonly answers: readonly string[] };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc
    .constantFrom("NOOP", "RSET", "MAIL FROM:<a@b.test>", "RCPT TO:<c@d.test>", "XYZZY", "")
    .map((line) => ({ kind: "command" as const, line })),
  fc
    .array(fc.stringMatching(/^[^\r\n]{0,12}$/), { maxLength: 6 })
    .map((lines) => ({ kind: "data" as const, lines })),
  fc
    .record({ chunk: fc.uint8Array({ maxLength: 40 }), last: fc.boolean() })
    .map((bdat) => ({ kind: "bdat" as const, ...bdat })),
  fc
    .array(fc.constantFrom("dXNlcg==", "QUIT", "RSET", "BDAT", "*"), { maxLength: 3 })
    .map((answers) => ({ kind: "auth" as const, answers })),
);

/** The bytes a client sends for `step`, each part followed by the reply it gets. */
function exchanges(step: Step): { send: Buffer; reply: string }[] {
  switch (step.kind) {
    case "command":
      return [{ send: Buffer.from(`${step.line}\r\n`), reply: "250-one\r\n250 two\r\n" }];
    case "data": {
      const stuffed = step.lines.map((line) => (line.startsWith(".") ? `.${line}` : line));
      const content = stuffed.map((line) => `${line}\r\n`).join("");
      return [
        { send: Buffer.from("DATA\r\n"), reply: "354 go on\r\n" },
        { send: Buffer.from(`${content}.\r\n`), reply: "250 queued\r\n" },
      ];
    }
    case "bdat": {
      const command = `BDAT ${step.chunk.length}${step.last ? " LAST" : ""}\r\n`;
      return [{ send: Buffer.concat([Buffer.from(command), step.chunk]), reply: "250 OK\r\n" }];
    }
    case "auth": {
      // Each line before the last answer gets a 334 challenge.
      const lines = ["AUTH LOGIN", ...step.answers];
      return lines.map((line, index) => ({
        send: Buffer.from(`${line}\r\n`),
        reply: index < lines.length - 1 ? "334 VXNlcm5hbWU6\r\n" : "235 2.7.0 OK\r\n",
      }));
    }
  }
}

/** `bytes` cut at `cuts`, without empty pieces: each piece is something sent. */
function pieces(bytes: Buffer, cuts: readonly number[]): Buffer[] {
  return splitAt(bytes, cuts).filter((piece) => piece.length > 0);
}

test("idle exactly between exchanges, however client and backend bytes are cut", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(step, fc.array(fc.nat()), fc.array(fc.nat())), { maxLength: 8 }),
      (steps) => {
        const watch = exchange();
        // A BDAT message is open from an accepted chunk to its LAST (or an RSET).
        let bdatOpen = false;
        for (const [current, clientCuts, replyCuts] of steps) {
          if (current.kind === "bdat") bdatOpen = !current.last;
          else if (current.kind === "command" && current.line === "RSET") bdatOpen = false;
          const parts = exchanges(current);
          for (const [index, part] of parts.entries()) {
            for (const piece of pieces(part.send, clientCuts)) {
              watch.fromClient(piece);
              assert.equal(watch.idle, false);
            }
            const reply = pieces(Buffer.from(part.reply), replyCuts);
            for (const piece of reply.slice(0, -1)) {
              watch.fromBackend(piece);
              assert.equal(watch.idle, false);
            }
            watch.fromBackend(reply.at(-1)!);
            // Between DATA's 354 and the message, or a 334 and its answer, the
            // client is not between commands.
            assert.equal(watch.idle, index === parts.length - 1 && !bdatOpen);
          }
        }
      },
    ),
  );
});

test("any bytes either way never throw", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.boolean(), fc.uint8Array({ maxLength: 64 })), { maxLength: 20 }),
      (chunks) => {
        const watch = exchange();
        for (const [fromClient, bytes] of chunks) {
          if (fromClient) watch.fromClient(Buffer.from(bytes));
          else watch.fromBackend(Buffer.from(bytes));
        }
        assert.equal(typeof watch.idle, "boolean");
      },
    ),
  );
});
