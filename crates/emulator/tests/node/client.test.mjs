// Google's Node.js client (@google-cloud/logging, its default gRPC transport with insecure
// credentials) against the emulator: writes text, JSON and AuditLog proto payloads with
// resources and labels, lists with filters and paging, reads the same entries back over REST,
// lists and deletes logs, follows a live tail, and checks a bad filter fails with the same
// status over gRPC and REST.
//
// Usage: node client.test.mjs http://127.0.0.1:PORT   (run by crates/emulator/tests/api/node.rs)

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Logging } from '@google-cloud/logging';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';

const url = new URL(process.argv[2]);
const projectId = 'node-project';
const run = randomUUID().slice(0, 12);
const logging = new Logging({
  projectId,
  apiEndpoint: url.hostname,
  port: Number(url.port),
  sslCreds: grpc.credentials.createInsecure(),
});

async function rest(path, body) {
  const response = await fetch(new URL(path, url), {
    method: body ? 'POST' : 'GET',
    headers: { 'content-type': 'application/json' },
    body: body && JSON.stringify(body),
  });
  return { status: response.status, json: await response.json() };
}

// An AuditLog as bytes, for a protoPayload (Any): the fields this test sets.
const auditType = protobuf
  .parse(
    `syntax = "proto3"; package google.cloud.audit;
     message AuditLog { string service_name = 7; string method_name = 8; string resource_name = 11; }`,
  )
  .root.lookupType('google.cloud.audit.AuditLog');
const audit = auditType
  .encode({ serviceName: 'storage.googleapis.com', methodName: 'storage.buckets.delete', resourceName: 'projects/_/buckets/b' })
  .finish();

const pod = {
  type: 'k8s_container',
  labels: { cluster_name: 'fastapi-cluster', namespace_name: 'default', pod_name: 'web-1', container_name: 'api' },
};

async function writeAndList() {
  const log = logging.log(`node-${run}`);
  const labels = { run, client: 'node' };
  // Distinct timestamps, a second apart, an hour ago (the client lists the last 24 hours).
  const at = (i) => new Date(Math.floor(Date.now() / 1000) * 1000 - 3600_000 + i * 1000);
  await log.write([
    log.entry({ resource: pod, labels, severity: 'WARNING', insertId: 'text-1', timestamp: at(0) }, 'hello from node'),
    log.entry(
      { resource: pod, labels, severity: 'ERROR', insertId: 'json-1', timestamp: at(1), httpRequest: { requestMethod: 'GET', status: 503 } },
      { message: 'structured hello', user: { id: 42, name: 'ann' }, ok: true },
    ),
    // Log#entry would take lone metadata for the payload; Logging#entry keeps it as metadata.
    logging.entry({
      resource: { type: 'gce_instance', labels: { instance_id: '1', zone: 'z' } },
      labels,
      severity: 'NOTICE',
      insertId: 'proto-1',
      timestamp: at(2),
      protoPayload: { type_url: 'type.googleapis.com/google.cloud.audit.AuditLog', value: audit },
    }),
  ]);
  for (let i = 0; i < 5; i++) {
    await log.write(log.entry({ resource: pod, labels, insertId: `batch-${i}`, timestamp: at(10 + i) }, `batched ${i}`));
  }

  const filter = (more) => `labels.run="${run}"` + (more ? ` AND (${more})` : '');
  const ids = async (more, options = {}) => {
    const [entries] = await logging.getEntries({ filter: filter(more), orderBy: 'timestamp asc', ...options });
    return entries.map((e) => e.metadata.insertId);
  };
  assert.deepEqual(await ids(''), ['text-1', 'json-1', 'proto-1', 'batch-0', 'batch-1', 'batch-2', 'batch-3', 'batch-4']);
  assert.deepEqual(await ids('severity>=WARNING'), ['text-1', 'json-1']);
  assert.deepEqual(await ids('jsonPayload.user.name="ann"'), ['json-1']);
  assert.deepEqual(await ids('protoPayload.methodName="storage.buckets.delete"'), ['proto-1']);
  assert.deepEqual(await ids('resource.type="k8s_container" resource.labels.pod_name="web-1"'), [
    'text-1', 'json-1', 'batch-0', 'batch-1', 'batch-2', 'batch-3', 'batch-4',
  ]);

  // Paging by hand: pages of 3, newest first.
  const paged = [];
  let query = { filter: filter('textPayload:batched'), orderBy: 'timestamp desc', pageSize: 3, autoPaginate: false };
  for (let pages = 0; query; pages++) {
    assert.ok(pages < 10, 'paging ends');
    const [entries, next] = await logging.getEntries(query);
    assert.ok(entries.length <= 3);
    paged.push(...entries.map((e) => e.metadata.insertId));
    query = next;
  }
  assert.deepEqual(paged, ['batch-4', 'batch-3', 'batch-2', 'batch-1', 'batch-0']);

  // What the Node client wrote over gRPC reads back over REST as Cloud Logging's JSON.
  const [text, json, proto] = (
    await rest('/v2/entries:list', { resourceNames: [`projects/${projectId}`], filter: filter('severity>=NOTICE') })
  ).json.entries;
  assert.equal(text.textPayload, 'hello from node');
  assert.deepEqual(text.resource, pod);
  assert.deepEqual(text.labels, labels);
  assert.equal(text.severity, 'WARNING');
  assert.deepEqual(json.jsonPayload, { message: 'structured hello', user: { id: 42, name: 'ann' }, ok: true });
  assert.deepEqual(json.httpRequest, { requestMethod: 'GET', status: 503 });
  assert.deepEqual(proto.protoPayload, {
    '@type': 'type.googleapis.com/google.cloud.audit.AuditLog',
    serviceName: 'storage.googleapis.com',
    methodName: 'storage.buckets.delete',
    resourceName: 'projects/_/buckets/b',
  });

  // Logs: listed, then one deleted.
  const [logs] = await logging.getLogs();
  assert.ok(logs.some((l) => l.name === `node-${run}`), JSON.stringify(logs.map((l) => l.name)));
  await log.delete();
  assert.deepEqual(await ids(''), []);
  console.log('node write/list/logs: ok');
}

async function tail() {
  const log = logging.log(`tail-${run}`);
  const resource = { type: 'global' };
  await log.write(log.entry({ resource }, 'before the tail'));
  const stream = logging.tailEntries({ filter: `log_id("tail-${run}")` });
  const received = [];
  let ready;
  const listening = new Promise((resolve) => (ready = resolve));
  let done;
  const allArrived = new Promise((resolve, reject) => {
    done = resolve;
    stream.on('error', reject);
  });
  stream.on('data', (response) => {
    ready(); // the emulator's first, empty response: the tail is listening
    received.push(...response.entries.map((e) => e.data));
    if (received.length >= 3) done();
  });
  await listening;
  for (let i = 0; i < 3; i++) {
    await log.write(log.entry({ resource }, `tailed ${i}`));
  }
  await allArrived;
  stream.abort();
  assert.deepEqual(received, ['tailed 0', 'tailed 1', 'tailed 2']);
  console.log('node tail: ok');
}

async function sameErrors() {
  const bad = 'severity>="loud" AND (';
  const grpcError = await logging.getEntries({ filter: bad }).then(
    () => assert.fail('a bad filter must fail'),
    (e) => e,
  );
  const restError = (await rest('/v2/entries:list', { resourceNames: [`projects/${projectId}`], filter: bad })).json.error;
  assert.equal(grpcError.code, grpc.status.INVALID_ARGUMENT);
  assert.equal(restError.status, 'INVALID_ARGUMENT');
  assert.equal(grpcError.details, restError.message);
  console.log(`node same error: ${restError.message}`);
}

await writeAndList();
await tail();
await sameErrors();
console.log('node client: ok');
process.exit(0);
