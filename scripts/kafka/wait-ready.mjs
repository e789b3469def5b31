// Waits until a Kafka broker answers an admin call (describeCluster), for broker.sh and test setup.
// Usage: node wait-ready.mjs <host:port[,host:port]> <timeout seconds> [pid to watch]
// Exit 0 when ready; 1 with the last error when the timeout passes or the watched process exits.
import kafkajs from 'kafkajs';

const { Kafka, logLevel } = kafkajs;
const [brokerList = '', timeoutArg = '60', watchedPid] = process.argv.slice(2);
const brokers = brokerList.split(',').filter(Boolean);
const deadline = Date.now() + Number(timeoutArg) * 1000;

function processIsAlive(pid) {
  try {
    process.kill(Number(pid), 0);
    return true;
  } catch {
    return false;
  }
}

let lastError = 'no attempt made';
while (Date.now() < deadline) {
  if (watchedPid && !processIsAlive(watchedPid)) {
    console.error(`broker process ${watchedPid} exited before it became ready`);
    process.exit(1);
  }
  const admin = new Kafka({
    clientId: 'nightshift-wait-ready',
    brokers,
    logLevel: logLevel.NOTHING,
    connectionTimeout: 2000,
    requestTimeout: 5000,
    retry: { retries: 0 },
  }).admin();
  try {
    await admin.connect();
    const cluster = await admin.describeCluster();
    await admin.disconnect();
    console.log(`broker ready: cluster ${cluster.clusterId}, ${cluster.brokers.length} broker(s)`);
    process.exit(0);
  } catch (error) {
    lastError = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    await admin.disconnect().catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
console.error(`broker at ${brokerList} not ready after ${timeoutArg}s: ${lastError}`);
process.exit(1);
