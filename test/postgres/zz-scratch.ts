import { MAIN_SERVER, startProxy } from "./harness.ts";

const p = await startProxy({ nexus_bench_try: MAIN_SERVER });
console.log(p.port);
const t0 = process.cpuUsage();
const w0 = Date.now();
setTimeout(() => {
  const u = process.cpuUsage(t0);
  console.error(
    "cpu%",
    (((u.user + u.system) / 1000 / (Date.now() - w0)) * 100).toFixed(0),
    "user",
    (u.user / 1000) | 0,
    "sys",
    (u.system / 1000) | 0,
  );
  p.close();
}, 12500);
