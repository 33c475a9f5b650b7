import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { takeOption } from "../../src/proxy/postgres/startup-options.ts";

test("each spelling of a setting is found and removed", () => {
  assert.deepEqual(takeOption("-c tenant=acme", "tenant"), { value: "acme", rest: "" });
  assert.deepEqual(takeOption("-ctenant=acme -c work_mem=5MB", "tenant"), {
    value: "acme",
    rest: "-c work_mem=5MB",
  });
  assert.deepEqual(takeOption("--search-path=x --Tenant=acme", "tenant"), {
    value: "acme",
    rest: "--search-path=x",
  });
  assert.deepEqual(takeOption("-c work_mem=5MB", "tenant"), {
    value: undefined,
    rest: "-c work_mem=5MB",
  });
});

test("backslash-escaped spaces stay inside a value and are escaped again", () => {
  assert.deepEqual(takeOption("-c tenant=a\\ b -c application_name=x\\ y", "tenant"), {
    value: "a b",
    rest: "-c application_name=x\\ y",
  });
});

test("property: options without the setting come back equivalent", () => {
  const word = fc.string({ minLength: 1, maxLength: 10 }).filter((s) => !s.startsWith("-"));
  fc.assert(
    fc.property(fc.array(word, { maxLength: 6 }), fc.string({ maxLength: 10 }), (words, value) => {
      const escaped = (s: string) => s.replace(/[\s\\]/g, (c) => `\\${c}`);
      const others = words.map((w) => `-c ${escaped(`x_${w}=1`)}`);
      const options = [...others, `-c ${escaped(`tenant=${value}`)}`].join(" ");
      const taken = takeOption(options, "tenant");
      assert.equal(taken.value, value);
      assert.equal(taken.rest, others.join(" "));
    }),
  );
});
