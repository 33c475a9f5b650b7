// The Date a response gains when its backend sent none (RFC 9110 §6.6.1: a
// recipient with a clock adds one), and proxy-made answers carry. Formatted
// once per second at most, not once per response.
let cached: string | undefined;

export function httpDate(): string {
  if (cached === undefined) {
    cached = new Date().toUTCString();
    setTimeout(() => {
      cached = undefined;
    }, 1000 - new Date().getMilliseconds()).unref();
  }
  return cached;
}
