// Route input validation through any Standard Schema v1 (zod 4, valibot,
// arktype …). A failure is BAD_REQUEST naming each failing field.
import type { StandardSchemaV1 } from "@standard-schema/spec";
import { ServiceError } from "./errors.ts";

export interface FieldIssue {
  /** Dotted path of the field, "data" for the value itself ("data.address.zip", "data.tags.0"). */
  readonly field: string;
  readonly message: string;
}

export type Validator = (data: unknown) => unknown | Promise<unknown>;

export function compileValidator(schema: StandardSchemaV1): Validator {
  const validate = schema["~standard"].validate;
  return (data) => {
    const result = validate(data);
    return result instanceof Promise ? result.then(unwrap) : unwrap(result);
  };
}

function unwrap(result: StandardSchemaV1.Result<unknown>): unknown {
  if (result.issues === undefined) return result.value;
  const issues = result.issues.map(toFieldIssue);
  const summary = issues.map((issue) => `${issue.field}: ${issue.message}`).join("; ");
  throw new ServiceError("BAD_REQUEST", `invalid input: ${summary}`, { details: { issues } });
}

function toFieldIssue(issue: StandardSchemaV1.Issue): FieldIssue {
  const segments = (issue.path ?? []).map((segment) =>
    String(typeof segment === "object" ? segment.key : segment),
  );
  return { field: ["data", ...segments].join("."), message: issue.message };
}
