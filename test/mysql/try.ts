import { BackendRouter, LOOPBACK_RANGES, StaticResolver } from "../../src/proxy/core/index.ts";
import { MysqlProxy } from "../../src/proxy/mysql/index.ts";
import { makeCertificate } from "../support/certificates.ts";

const cert = makeCertificate(["localhost"]);
const router = new BackendRouter({
  ssrf: { allow: LOOPBACK_RANGES },
  resolver: new StaticResolver({ test: "127.0.0.1:3306", mysql: "127.0.0.1:3306" }),
});
const proxy = new MysqlProxy({
  router,
  tls: { cert: cert.cert, key: cert.key },
  defaultRoute: "test",
});
const addr = await proxy.listen(Number(process.argv[2] ?? 0));
console.log(addr.port, cert.certPath);
process.on("SIGTERM", async () => {
  await proxy.close();
  cert.dispose();
  process.exit(0);
});
