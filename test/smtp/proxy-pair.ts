// The same routes behind two SMTP proxies, one per routing mode, each
// listening on its own loopback port.
import type { StaticRoutes } from "../../src/proxy/core/index.ts";
import { SmtpProxy, type SmtpProxyOptions } from "../../src/proxy/smtp/index.ts";
import { loopbackRouter } from "../support/loopback-router.ts";

export interface ProxyPair {
  /** Port of the proxy that routes by EHLO domain. */
  readonly helloPort: number;
  /** Port of the proxy that routes by the first recipient's domain. */
  readonly recipientPort: number;
  close(): Promise<void>;
}

export async function startProxyPair(
  routes: StaticRoutes,
  options: Partial<SmtpProxyOptions> = {},
): Promise<ProxyPair> {
  const proxy = (routeBy: "ehlo" | "recipient") =>
    new SmtpProxy({ router: loopbackRouter(routes), hostname: "proxy.test", ...options, routeBy });
  const byHello = proxy("ehlo");
  const byRecipient = proxy("recipient");
  const helloPort = (await byHello.listen(0, "127.0.0.1")).port;
  const recipientPort = (await byRecipient.listen(0, "127.0.0.1")).port;
  return {
    helloPort,
    recipientPort,
    close: async () => {
      await byHello.close();
      await byRecipient.close();
    },
  };
}
