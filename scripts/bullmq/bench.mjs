// BullMQ peer for `just bench`: the same three measures as
// thumbforge-queue-bench, on the same Redis, with a no-op processor.
//   node bench.mjs [redis-url] [jobs] [concurrency] [pickup-samples]
import { Queue, Worker } from "bullmq";
import IORedis from "ioredis";
import { performance } from "node:perf_hooks";

const url = process.argv[2] ?? "redis://127.0.0.1:6379";
const jobs = Number(process.argv[3] ?? 20000);
const concurrency = Number(process.argv[4] ?? 50);
const samples = Number(process.argv[5] ?? 1000);
const connection = () => new IORedis(url, { maxRetriesPerRequest: null });

async function fresh(name) {
  const queue = new Queue(name, { connection: connection() });
  await queue.obliterate({ force: true }).catch(() => {});
  return queue;
}

async function addAll(queue, n) {
  for (let i = 0; i < n; i += 500) {
    const batch = [];
    for (let j = i; j < Math.min(n, i + 500); j++) {
      batch.push({ name: "noop", data: { i: j }, opts: { removeOnComplete: true, removeOnFail: true } });
    }
    await queue.addBulk(batch);
  }
}

function drain(name, n) {
  return new Promise((resolve) => {
    let done = 0;
    const start = performance.now();
    const worker = new Worker(name, async () => {}, { connection: connection(), concurrency });
    worker.on("completed", () => {
      if (++done === n) {
        const secs = (performance.now() - start) / 1000;
        worker.close().then(() => resolve(secs));
      }
    });
  });
}

// 1. No-op throughput.
{
  const name = `bullmq-noop-${process.pid}`;
  const queue = await fresh(name);
  await addAll(queue, jobs);
  const secs = await drain(name, jobs);
  console.log(`noop: ${jobs} jobs at concurrency ${concurrency} in ${secs.toFixed(2)} s = ${Math.round(jobs / secs)} jobs/s`);
  await queue.obliterate({ force: true });
  await queue.close();
}

// 2. Pickup latency of an idle worker.
{
  const name = `bullmq-pickup-${process.pid}`;
  const queue = await fresh(name);
  const pushedAt = new Map();
  const pickups = [];
  let resolveOne;
  const worker = new Worker(
    name,
    async (job) => {
      pickups.push(performance.now() - pushedAt.get(job.data.i));
      resolveOne();
    },
    { connection: connection(), concurrency },
  );
  await worker.waitUntilReady();
  await new Promise((r) => setTimeout(r, 300));
  for (let i = 0; i < samples; i++) {
    const handled = new Promise((r) => (resolveOne = r));
    pushedAt.set(i, performance.now());
    await queue.add("noop", { i }, { removeOnComplete: true });
    await handled;
    await new Promise((r) => setTimeout(r, 2));
  }
  pickups.sort((a, b) => a - b);
  const p = (q) => pickups[Math.round((pickups.length - 1) * q)];
  console.log(`pickup: ${pickups.length} samples, p50 ${p(0.5).toFixed(2)} ms, p99 ${p(0.99).toFixed(2)} ms, max ${pickups.at(-1).toFixed(2)} ms`);
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
}
process.exit(0);
