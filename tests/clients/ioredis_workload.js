// A scripted workload through ioredis with its default settings.
//
//     node tests/clients/ioredis_workload.js HOST:PORT [HOST:PORT ...]
//
// Run by crates/synod/tests/client_libraries.rs against a 3-node cluster,
// with NODE_PATH pointing at the ioredis that .ci/run installs: commands,
// pipelines and errors, through every node given. Prints one line per step
// and exits non-zero on the first failure.
"use strict";

const assert = require("node:assert/strict");
const Redis = require("ioredis");

function connect(endpoint) {
  const [host, port] = endpoint.split(/:(?=[^:]*$)/);
  return new Redis({ host, port: Number(port), maxRetriesPerRequest: 2, lazyConnect: false });
}

function step(name) {
  console.log(`ok: ${name}`);
}

async function expectError(promise, fragment) {
  await assert.rejects(promise, (error) => {
    assert.ok(error.message.includes(fragment), `${fragment} not in ${error.message}`);
    return true;
  });
}

async function main(endpoints) {
  const nodes = endpoints.map(connect);
  const first = nodes[0];
  const last = nodes[nodes.length - 1];

  assert.equal(await first.ping(), "PONG");
  assert.equal(await first.echo("hi"), "hi");
  step("PING, ECHO");

  assert.equal(await first.set("greeting", "hello"), "OK");
  assert.equal(await last.get("greeting"), "hello");
  assert.equal(await last.get("missing"), null);
  assert.equal(await first.set("greeting", "again", "NX"), null);
  assert.equal(await first.set("greeting", "again", "XX"), "OK");
  assert.equal(await last.get("greeting"), "again");
  step("SET with NX and XX, GET through another node");

  const binary = Buffer.from([...Array(256).keys()]);
  await first.set(Buffer.from("binary\0key"), binary);
  assert.deepEqual(await last.getBuffer(Buffer.from("binary\0key")), binary);
  step("binary keys and values");

  assert.equal(await first.exists("greeting", "greeting", "missing"), 2);
  assert.equal(await last.del("greeting", "missing", Buffer.from("binary\0key")), 2);
  step("EXISTS and DEL of many keys");

  assert.equal(await first.incr("counter"), 1);
  assert.equal(await last.incrby("counter", 41), 42);
  assert.equal(await first.decr("counter"), 41);
  assert.equal(await last.decrby("counter", 50), -9);
  await first.set("not-a-number", "abc");
  await expectError(last.incr("not-a-number"), "value is not an integer");
  step("INCR, INCRBY, DECR, DECRBY, and a value that is not a number");

  assert.equal(await first.setnx("text", "This is a string"), 1);
  assert.equal(await last.strlen("text"), 16);
  assert.equal(await first.getrange("text", -6, -1), "string");
  assert.equal(await last.type("text"), "string");
  assert.equal(await first.getset("text", "swapped"), "This is a string");
  assert.equal(await last.append("text", "!"), 8);
  assert.equal(await first.getdel("text"), "swapped!");
  assert.equal(await last.mset({ m1: "a", m2: "b" }), "OK");
  assert.equal(await first.msetnx("m2", "x", "m3", "c"), 0);
  assert.ok((await last.dbsize()) >= 2);
  assert.equal(await first.unlink("m1", "m2", "m3"), 2);
  step("SETNX, STRLEN, GETRANGE, TYPE, GETSET, APPEND, GETDEL, MSET, MSETNX, DBSIZE, UNLINK");

  const ran = await first.multi().incr("tx:counter").set("tx:key", "v").mget("tx:key", "missing").exec();
  assert.deepEqual(ran, [[null, 1], [null, "OK"], [null, ["v", null]]]);
  step("MULTI/EXEC, MGET");

  await first.set("tx:balance", "5");
  await first.watch("tx:balance");
  await last.set("tx:balance", "100");
  assert.equal(await first.multi().set("tx:balance", "0").exec(), null);
  assert.equal(await last.get("tx:balance"), "100");
  await first.watch("tx:balance");
  const balance = Number(await first.get("tx:balance"));
  assert.deepEqual(await first.multi().set("tx:balance", String(balance + 1)).exec(), [[null, "OK"]]);
  assert.equal(await last.get("tx:balance"), "101");
  step("WATCH: EXEC is null after a change through another node, runs when unchanged");

  assert.equal(await first.set("ttl:key", "v", "PX", 200), "OK");
  const left = await last.pttl("ttl:key");
  assert.ok(left > 0 && left <= 200, `PTTL ${left}`);
  assert.equal(await first.persist("ttl:key"), 1);
  assert.equal(await last.ttl("ttl:key"), -1);
  assert.equal(await first.psetex("ttl:short", 150, "v"), "OK");
  await new Promise((resolve) => setTimeout(resolve, 400));
  assert.equal(await last.get("ttl:short"), null);
  await expectError(first.set("ttl:bad", "v", "EX", 0), "invalid expire time in 'set' command");
  step("SET PX, PTTL, PERSIST, TTL, PSETEX, expiry on the agreed clock");

  const pipeline = first.pipeline();
  for (let index = 0; index < 200; index++) pipeline.set(`key:${index}`, index);
  for (let index = 0; index < 200; index++) pipeline.get(`key:${index}`);
  const replies = await pipeline.exec();
  replies.slice(0, 200).forEach(([error, reply]) => {
    assert.equal(error, null);
    assert.equal(reply, "OK");
  });
  replies.slice(200).forEach(([error, reply], index) => {
    assert.equal(error, null);
    assert.equal(reply, String(index));
  });
  step("a pipeline of 400 commands, answered in order");

  const mixed = await last.pipeline().set("in-pipeline", "1").call("NO-SUCH-COMMAND").get("in-pipeline").exec();
  assert.equal(mixed[0][1], "OK");
  assert.ok(mixed[1][0] instanceof Error && mixed[1][0].message.includes("unknown command"));
  assert.equal(mixed[2][1], "1");
  step("an error inside a pipeline leaves the rest answered");

  await expectError(first.call("GET"), "wrong number of arguments");
  await expectError(first.call("SET", "k", "v", "NX", "XX"), "syntax error");
  await expectError(first.call("HELLO", "4"), "unsupported protocol version");
  step("errors: arity, syntax, protocol version");

  await Promise.all(nodes.map((node) => node.quit()));
  console.log("ioredis workload passed");
}

if (process.argv.length < 3) {
  console.error("usage: node tests/clients/ioredis_workload.js HOST:PORT [HOST:PORT ...]");
  process.exit(2);
}
main(process.argv.slice(2)).catch((error) => {
  console.error(error);
  process.exit(1);
});
