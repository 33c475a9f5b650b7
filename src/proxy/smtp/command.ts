// Parses the SMTP commands the proxy answers itself (RFC 5321 §4.1): the verb
// and argument of a line, the domain of EHLO/HELO, and the paths of MAIL FROM
// and RCPT TO with their ESMTP parameters.

export interface SmtpCommand {
  /** Upper-cased verb; "" when the line does not start with one. */
  readonly verb: string;
  readonly argument: string;
}

export interface MailPath {
  /** The mailbox without angle brackets or source route; "" for the null path <>. */
  readonly address: string;
  /** Lower-cased domain of the mailbox; undefined for <> and <postmaster>. */
  readonly domain: string | undefined;
  /** ESMTP parameters by upper-cased keyword (SIZE, BODY, …); value undefined when bare. */
  readonly parameters: ReadonlyMap<string, string | undefined>;
}

/** A command whose argument breaks RFC 5321's grammar; `message` says how to write it. */
export class SmtpSyntaxError extends Error {
  readonly code = "ERR_NEXUS_SMTP_SYNTAX";
  constructor(message: string) {
    super(message);
    this.name = "SmtpSyntaxError";
  }
}

const VERB = /^[A-Za-z]{1,16}$/;
// A host name (labels of letters, digits, hyphens; underscores are common in
// the wild) or an address literal such as [192.0.2.1] or [IPv6:…].
const DOMAIN =
  /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/;
const ADDRESS_LITERAL = /^\[[\x21-\x5a\x5e-\x7e]+\]$/;
const PARAMETER = /^([A-Za-z0-9][A-Za-z0-9-]*)(?:=([\x21-\x3c\x3e-\x7e]+))?$/;
const MAX_DOMAIN = 255;

export function parseCommand(line: string): SmtpCommand {
  const space = line.indexOf(" ");
  const verb = space < 0 ? line : line.slice(0, space);
  const argument = space < 0 ? "" : line.slice(space + 1).trim();
  return VERB.test(verb) ? { verb: verb.toUpperCase(), argument } : { verb: "", argument: line };
}

/** The domain (or address literal) an EHLO/HELO argument names, lower-cased. */
export function parseHelloDomain(argument: string): string {
  const domain = argument.split(" ", 1)[0] ?? "";
  if (!isDomain(domain)) throw new SmtpSyntaxError("Syntax: EHLO domain");
  return domain.toLowerCase();
}

/**
 * Parses `FROM:<path> params` (keyword "FROM") or `TO:<path> params`
 * (keyword "TO"), the argument of MAIL and RCPT.
 */
export function parseMailPath(argument: string, keyword: "FROM" | "TO"): MailPath {
  const usage = keyword === "FROM" ? "Syntax: MAIL FROM:<address>" : "Syntax: RCPT TO:<address>";
  const prefix = `${keyword}:`;
  if (argument.slice(0, prefix.length).toUpperCase() !== prefix) throw new SmtpSyntaxError(usage);
  // RFC 5321 allows no space after the colon; many clients send one anyway.
  const rest = argument.slice(prefix.length).trimStart();
  if (!rest.startsWith("<")) throw new SmtpSyntaxError(usage);
  const close = closingBracket(rest);
  if (close < 0) throw new SmtpSyntaxError(usage);
  const address = stripSourceRoute(rest.slice(1, close));
  const parameters = parseParameters(rest.slice(close + 1), usage);
  if (address === "") {
    if (keyword === "TO") throw new SmtpSyntaxError(usage);
    return { address, domain: undefined, parameters };
  }
  const at = address.lastIndexOf("@");
  if (at < 0) {
    // Only <postmaster> may go without a domain (RFC 5321 §4.1.1.3).
    if (keyword === "TO" && address.toLowerCase() === "postmaster") {
      return { address, domain: undefined, parameters };
    }
    throw new SmtpSyntaxError(usage);
  }
  const domain = address.slice(at + 1);
  if (at === 0 || !isDomain(domain)) throw new SmtpSyntaxError(usage);
  return { address, domain: domain.toLowerCase().replace(/\.$/, ""), parameters };
}

function isDomain(text: string): boolean {
  if (text.length === 0 || text.length > MAX_DOMAIN) return false;
  return DOMAIN.test(text) || ADDRESS_LITERAL.test(text);
}

/** Index of the ">" ending the path, skipping quoted local parts ("a>b"@x). */
function closingBracket(text: string): number {
  let quoted = false;
  for (let i = 1; i < text.length; i += 1) {
    const char = text[i];
    if (quoted && char === "\\") i += 1;
    else if (char === '"') quoted = !quoted;
    else if (char === ">" && !quoted) return i;
  }
  return -1;
}

/** `@relay1,@relay2:user@domain` → `user@domain` (source routes are obsolete). */
function stripSourceRoute(path: string): string {
  if (!path.startsWith("@")) return path;
  const colon = path.indexOf(":");
  return colon < 0 ? path : path.slice(colon + 1);
}

function parseParameters(text: string, usage: string): Map<string, string | undefined> {
  const parameters = new Map<string, string | undefined>();
  if (text !== "" && !text.startsWith(" ")) throw new SmtpSyntaxError(usage);
  for (const word of text.split(" ")) {
    if (word === "") continue;
    const match = PARAMETER.exec(word);
    if (!match) throw new SmtpSyntaxError(`Bad parameter ${JSON.stringify(word)}`);
    parameters.set(match[1]!.toUpperCase(), match[2]);
  }
  return parameters;
}
