// What an SMTP client is told when its session cannot be routed or its
// backend fails, in SMTP's own terms (RFC 5321 reply codes, RFC 3463 enhanced
// status codes). The table is documented in docs/smtp.md; keep both in step.
import { ResolverError } from "../core/index.ts";
import type { SmtpReply } from "./reply.ts";

/** Where the session was when routing failed: at EHLO/HELO, or at the first RCPT. */
export type RoutingStage = "hello" | "recipient";

export interface FailureReply {
  readonly reply: SmtpReply;
  /** 421 replies end the session (RFC 5321 §3.8): the proxy closes after sending. */
  readonly close: boolean;
}

/** A backend that accepted the connection but did not speak SMTP as expected. */
export class BackendSmtpError extends Error {
  readonly code = "ERR_NEXUS_SMTP_BACKEND";
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BackendSmtpError";
  }
}

export function failureReply(error: unknown, stage: RoutingStage, key: string): FailureReply {
  const atHello = stage === "hello";
  if (error instanceof ResolverError) {
    if (error.code === "NOT_FOUND") {
      return atHello
        ? keep(554, `5.7.1 No mail service for ${key}`)
        : keep(550, `5.1.2 ${key}: recipient domain not served here`);
    }
    if (error.code === "FORBIDDEN") {
      return keep(atHello ? 554 : 550, `5.7.1 Mail for ${key} is refused by policy`);
    }
    if (error.reason === "cold_start_timeout") {
      return keep(451, `4.4.1 Mail service for ${key} is starting, try again later`);
    }
    if (error.reason === "queue_full") {
      return close(`4.3.2 Too many connections waiting for ${key}, try again later`);
    }
  }
  // Backend down, unreachable, slow to answer, broken, or the resolver failed:
  // at EHLO there is nothing left to do but close; at RCPT the client may
  // still try again later in the same session.
  const text = `4.4.1 Mail service for ${key} is unavailable, try again later`;
  return atHello ? close(text) : keep(451, text);
}

function keep(code: number, text: string): FailureReply {
  return { reply: { code, lines: [text] }, close: false };
}

function close(text: string): FailureReply {
  return { reply: { code: 421, lines: [text] }, close: true };
}
