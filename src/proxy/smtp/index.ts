export {
  type MailPath,
  parseCommand,
  parseHelloDomain,
  parseMailPath,
  type SmtpCommand,
  SmtpSyntaxError,
} from "./command.ts";
export { type CommandLine, CommandLineReader } from "./command-line-reader.ts";
export { BackendSmtpError, failureReply, type RoutingStage } from "./error-replies.ts";
export { formatReply, ReplyReader, type SmtpReply, SmtpReplyError } from "./reply.ts";
export { SmtpProxy, type SmtpProxyOptions } from "./smtp-proxy.ts";
