export {
  type ClientHello,
  ClientHelloError,
  type ClientHelloRead,
  DEFAULT_MAX_CLIENT_HELLO,
  readClientHello,
} from "./client-hello.ts";
export { TlsSniProxy, type TlsSniProxyOptions } from "./tls-sni-proxy.ts";
