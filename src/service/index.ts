export { Call, type Caller, type CallerDialect, type CallRequest } from "./call.ts";
export {
  defineService,
  type Handler,
  type HandlerContext,
  type RouteOptions,
  type RouteSpec,
  type RoutesOf,
  ServiceDefinition,
  type ServiceEnvironment,
  type ServiceOptions,
} from "./define.ts";
export {
  ERROR_STATUS,
  type ErrorCode,
  errorFromWire,
  isErrorCode,
  ServiceError,
  type ServiceErrorOptions,
} from "./errors.ts";
export type {
  CallArgs,
  CallInput,
  CallOptions,
  Method,
  ParamNames,
  ParamsOf,
  RouteKey,
  RouteTable,
  RouteTypes,
} from "./route-types.ts";
export { ServiceRuntime } from "./runtime.ts";
export type { FieldIssue } from "./validation.ts";
