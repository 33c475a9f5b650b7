import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import {
  parseCommand,
  parseHelloDomain,
  parseMailPath,
  SmtpSyntaxError,
} from "../../src/proxy/smtp/index.ts";

const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,15}[a-z0-9])?$/);
const domain = fc.array(label, { minLength: 1, maxLength: 4 }).map((labels) => labels.join("."));
const localPart = fc.stringMatching(
  /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,20}(\.[A-Za-z0-9_-]{1,10})?$/,
);
const parameter = fc.tuple(
  fc.stringMatching(/^[A-Z][A-Z0-9-]{0,10}$/),
  fc.stringMatching(/^[A-Za-z0-9.+_-]{1,12}$/),
);

/** Calls `parse`; a SmtpSyntaxError is an answer, anything else thrown fails the test. */
function attempt<T>(parse: () => T): T | "syntax error" {
  try {
    return parse();
  } catch (error) {
    assert.ok(error instanceof SmtpSyntaxError, String(error));
    return "syntax error";
  }
}

describe("SMTP command parser", () => {
  test("verbs are case-insensitive; anything else has no verb", () => {
    assert.deepEqual(parseCommand("ehlo mail.example"), { verb: "EHLO", argument: "mail.example" });
    assert.deepEqual(parseCommand("QUIT"), { verb: "QUIT", argument: "" });
    assert.deepEqual(parseCommand("MAIL FROM:<a@b.c>  "), {
      verb: "MAIL",
      argument: "FROM:<a@b.c>",
    });
    assert.equal(parseCommand("\u0016\u0003\u0001").verb, "");
    assert.equal(parseCommand("").verb, "");
  });

  test("EHLO takes a domain or an address literal", () => {
    assert.equal(parseHelloDomain("Mail.Example.TEST"), "mail.example.test");
    assert.equal(parseHelloDomain("[192.0.2.1]"), "[192.0.2.1]");
    assert.equal(parseHelloDomain("[IPv6:2001:db8::1]"), "[ipv6:2001:db8::1]");
    for (const bad of ["", "-bad.test", "bad..test", "a,b", "x".repeat(256), "<a@b>"]) {
      assert.throws(() => parseHelloDomain(bad), SmtpSyntaxError, bad);
    }
  });

  test("MAIL and RCPT paths: null sender, postmaster, source routes, quoting, parameters", () => {
    const from = parseMailPath("FROM:<> BODY=8BITMIME SIZE=1024", "FROM");
    assert.equal(from.address, "");
    assert.equal(from.domain, undefined);
    assert.deepEqual(
      [...from.parameters],
      [
        ["BODY", "8BITMIME"],
        ["SIZE", "1024"],
      ],
    );
    assert.equal(parseMailPath("TO:<Postmaster>", "TO").domain, undefined);
    assert.equal(parseMailPath("to: <@relay.test:User@B.Test>", "TO").domain, "b.test");
    assert.equal(parseMailPath('TO:<"odd>@name"@c.test>', "TO").domain, "c.test");
    assert.deepEqual(
      [...parseMailPath("FROM:<a@b.test> SMTPUTF8", "FROM").parameters],
      [["SMTPUTF8", undefined]],
    );
    for (const bad of [
      "TO:<>",
      "TO:<nobody>",
      "TO:a@b.test",
      "TO:<a@b.test",
      "TO:<@b.test>",
      "TO:<a@b.test>x",
      "FROM:<a@b.test>",
    ]) {
      assert.throws(() => parseMailPath(bad, "TO"), SmtpSyntaxError, bad);
    }
  });

  test("any well-formed path parses back to its mailbox and domain (property)", () => {
    fc.assert(
      fc.property(
        localPart,
        domain,
        fc.constantFrom("FROM", "TO"),
        fc.array(parameter, { maxLength: 4 }),
        fc.boolean(),
        (local, host, keyword, parameters, spaced) => {
          const words = parameters.map(([key, value]) => `${key}=${value}`);
          const argument = `${keyword}:${spaced ? " " : ""}<${local}@${host.toUpperCase()}>${words.map((w) => ` ${w}`).join("")}`;
          const path = parseMailPath(argument, keyword as "FROM" | "TO");
          assert.equal(path.address, `${local}@${host.toUpperCase()}`);
          assert.equal(path.domain, host);
          assert.deepEqual(path.parameters, new Map(parameters.map(([k, v]) => [k, v])));
        },
      ),
    );
  });

  test("random, truncated and malformed lines never throw anything but SmtpSyntaxError (property)", () => {
    const valid = fc.tuple(localPart, domain).map(([l, d]) => `TO:<${l}@${d}> NOTIFY=NEVER`);
    const line = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.string({ unit: "binary", maxLength: 200 }),
      valid.chain((v) => fc.nat(v.length).map((cut) => v.slice(0, cut))),
      valid.chain((v) =>
        fc
          .tuple(fc.nat(v.length), fc.string({ maxLength: 3 }))
          .map(([at, junk]) => v.slice(0, at) + junk + v.slice(at)),
      ),
    );
    fc.assert(
      fc.property(line, (text) => {
        const command = parseCommand(text);
        assert.equal(typeof command.verb, "string");
        attempt(() => parseHelloDomain(text));
        for (const keyword of ["FROM", "TO"] as const) {
          const path = attempt(() => parseMailPath(text, keyword));
          if (path !== "syntax error" && path.domain !== undefined) {
            assert.equal(path.domain, path.domain.toLowerCase());
          }
        }
      }),
      { numRuns: 1000 },
    );
  });
});
