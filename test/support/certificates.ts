// Self-signed certificates for tests that terminate or route TLS. Made with
// the openssl command-line tool into a temporary folder removed by `dispose`.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface TestCertificate {
  /** PEM certificate (also the CA to trust: it signs itself). */
  readonly cert: string;
  /** PEM private key. */
  readonly key: string;
  readonly certPath: string;
  readonly keyPath: string;
  dispose(): void;
}

/** A certificate for `names` (DNS names; the first is the subject). */
export function makeCertificate(names: readonly string[] = ["localhost"]): TestCertificate {
  if (names.length === 0) throw new Error("makeCertificate needs at least one name");
  const dir = mkdtempSync(join(tmpdir(), "nexus-cert-"));
  const certPath = join(dir, "cert.pem");
  const keyPath = join(dir, "key.pem");
  const configPath = join(dir, "openssl.cnf");
  const altNames = names.map((name, i) => `DNS.${i + 1} = ${name}`).join("\n");
  writeFileSync(
    configPath,
    [
      "[req]",
      "distinguished_name = dn",
      "x509_extensions = ext",
      "prompt = no",
      "[dn]",
      `CN = ${names[0]}`,
      "[ext]",
      "subjectAltName = @alt",
      "basicConstraints = critical,CA:TRUE",
      "[alt]",
      altNames,
      "IP.1 = 127.0.0.1",
      "",
    ].join("\n"),
  );
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "2",
      "-keyout",
      keyPath,
      "-out",
      certPath,
      "-config",
      configPath,
    ],
    { stdio: "ignore" },
  );
  return {
    cert: readFileSync(certPath, "utf8"),
    key: readFileSync(keyPath, "utf8"),
    certPath,
    keyPath,
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}
