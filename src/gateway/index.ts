export { Gateway, type GatewayOptions } from "./gateway.ts";
export { retryAfterSeconds, type ServiceView } from "./service-view.ts";
