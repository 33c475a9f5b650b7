// A real SMTP server (npm smtp-server) standing in for a mail backend. It
// records every message with its envelope, exactly as it received it.
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { SMTPServer, type SMTPServerOptions } from "smtp-server";

export interface ReceivedMail {
  readonly backend: string;
  readonly helo: string;
  readonly from: string;
  readonly to: readonly string[];
  readonly user: string | undefined;
  /** True when the session reached the backend over TLS. */
  readonly secure: boolean;
  /** The message as the backend got it, dot-unstuffed, without the final ".". */
  readonly message: Buffer;
}

export interface MailBackend {
  readonly name: string;
  readonly port: number;
  /** Resolves with the next message this backend receives. */
  nextMail(): Promise<ReceivedMail>;
  close(): Promise<void>;
}

export interface MailBackendOptions {
  /** Offer AUTH PLAIN/LOGIN and accept `user`/`secret`. */
  readonly auth?: boolean;
  /** Offer STARTTLS with this certificate. */
  readonly tls?: { readonly cert: string; readonly key: string };
  /** A sender address refused at MAIL FROM with 550. */
  readonly refuseSender?: string;
}

export async function startMailBackend(
  name: string,
  options: MailBackendOptions = {},
): Promise<MailBackend> {
  const received: ReceivedMail[] = [];
  const waiting: ((mail: ReceivedMail) => void)[] = [];
  const deliver = (mail: ReceivedMail) => {
    const waiter = waiting.shift();
    if (waiter) waiter(mail);
    else received.push(mail);
  };
  const serverOptions: SMTPServerOptions = {
    name,
    logger: false,
    authOptional: true,
    allowInsecureAuth: true,
    authMethods: ["PLAIN", "LOGIN"],
    disabledCommands: [...(options.auth ? [] : ["AUTH"]), ...(options.tls ? [] : ["STARTTLS"])],
    ...(options.tls ? { cert: options.tls.cert, key: options.tls.key } : {}),
    onAuth(auth, _session, callback) {
      if (auth.username === "user" && auth.password === "secret") {
        callback(null, { user: auth.username });
      } else {
        callback(new Error("Invalid username or password"));
      }
    },
    onMailFrom(address, _session, callback) {
      if (address.address === options.refuseSender) {
        callback(Object.assign(new Error("5.7.1 Sender refused"), { responseCode: 550 }));
      } else {
        callback();
      }
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("end", () => {
        deliver({
          backend: name,
          helo: session.hostNameAppearsAs,
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address),
          user: typeof session.user === "string" ? session.user : undefined,
          secure: session.secure,
          message: Buffer.concat(chunks),
        });
        callback();
      });
    },
  };
  const server = new SMTPServer(serverOptions);
  server.on("error", () => {});
  server.listen(0, "127.0.0.1");
  await once(server.server, "listening");
  const { port } = server.server.address() as AddressInfo;
  return {
    name,
    port,
    nextMail: () => {
      const mail = received.shift();
      return mail ? Promise.resolve(mail) : new Promise((resolve) => waiting.push(resolve));
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
