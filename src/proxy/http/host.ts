// The routing key of an HTTP request is its Host header (RFC 9110 §7.2):
// the host part only, lower-cased, without the port. Anything that is not a
// valid `uri-host [ ":" port ]` is refused so that odd spellings cannot reach
// a resolver (which might match them loosely) or a backend.
import { isIP } from "node:net";

/** Characters of a reg-name (RFC 3986 §3.2.2): unreserved, pct-encoded, sub-delims. */
const REG_NAME = /^[a-z0-9\-._~!$&'()*+,;=%]+$/;
const DIGITS = /^\d{0,5}$/;

/** The routing key for a Host header value, or undefined when it is missing or invalid. */
export function routingKeyFromHost(host: string | undefined): string | undefined {
  if (host === undefined || host.length === 0 || host.length > 1024) return undefined;
  const value = host.toLowerCase();
  if (value.startsWith("[")) {
    const close = value.indexOf("]");
    if (close < 0) return undefined;
    const address = value.slice(1, close);
    const rest = value.slice(close + 1);
    if (isIP(address) !== 6) return undefined;
    if (rest !== "" && !(rest.startsWith(":") && isPort(rest.slice(1)))) return undefined;
    return address;
  }
  const colon = value.indexOf(":");
  const name = colon < 0 ? value : value.slice(0, colon);
  if (colon >= 0 && !isPort(value.slice(colon + 1))) return undefined;
  if (!REG_NAME.test(name)) return undefined;
  return name.endsWith(".") ? name.slice(0, -1) || undefined : name;
}

const ABSOLUTE_FORM = /^https?:\/\/([^/?#]*)(.*)$/i;

/**
 * The request target to send to the backend, in origin-form, or undefined
 * when the request must be refused. An absolute-form target
 * (`GET http://host/path`) names the host the backend would serve (RFC 9112
 * §3.2.2 says a server uses it and ignores Host), so it must name the host
 * the request was routed by.
 */
export function originFormTarget(
  method: string,
  target: string,
  routingKey: string,
): string | undefined {
  if (target.startsWith("/")) return target;
  // The asterisk-form is for OPTIONS only (RFC 9112 §3.2.4).
  if (target === "*") return method === "OPTIONS" ? target : undefined;
  const absolute = ABSOLUTE_FORM.exec(target);
  if (!absolute || routingKeyFromHost(absolute[1]) !== routingKey) return undefined;
  const rest = absolute[2] ?? "";
  if (rest === "" && method === "OPTIONS") return "*";
  return rest.startsWith("/") ? rest : `/${rest}`;
}

/** A port as RFC 3986 allows it (digits, maybe none) that TCP can have: at most 65535. */
function isPort(text: string): boolean {
  return DIGITS.test(text) && (text === "" || Number(text) <= 65535);
}
