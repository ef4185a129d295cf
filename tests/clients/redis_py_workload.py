"""A scripted workload through redis-py with its default settings.

    python3 tests/clients/redis_py_workload.py HOST:PORT [HOST:PORT ...]

Run by crates/synod/tests/client_libraries.rs against a 3-node cluster:
commands, pipelines and errors, through every node given, with redis-py's
defaults (it says `HELLO 3` and speaks RESP3 when the server can). Any
warning is an error, so a silent fallback to RESP2 fails the run. Prints
one line per step and exits non-zero on the first failure.
"""

import sys
import time
import warnings

import redis

warnings.simplefilter("error")


def connect(endpoint):
    host, port = endpoint.rsplit(":", 1)
    return redis.Redis(host=host, port=int(port), socket_timeout=10)


def step(name):
    print(f"ok: {name}", flush=True)


def expect_error(function, fragment):
    try:
        function()
    except redis.ResponseError as error:
        assert fragment in str(error), f"{fragment!r} not in {error!r}"
        return
    raise AssertionError(f"expected an error containing {fragment!r}")


def main(endpoints):
    nodes = [connect(endpoint) for endpoint in endpoints]
    first, last = nodes[0], nodes[-1]

    info = first.execute_command("CLIENT", "INFO")
    text = info.decode() if isinstance(info, bytes) else str(info)
    assert "resp=3" in text, f"redis-py's default connection speaks RESP3: {text}"
    step("the default connection negotiated RESP3")

    assert first.ping() is True
    assert first.echo("hi") == b"hi"
    step("PING, ECHO")

    assert first.set("greeting", "hello") is True
    assert last.get("greeting") == b"hello"
    assert last.get("missing") is None
    assert first.set("greeting", "again", nx=True) is None
    assert first.set("greeting", "again", xx=True) is True
    assert last.set("fresh", "x", xx=True) is None
    assert last.get("greeting") == b"again"
    step("SET with NX and XX, GET through another node")

    binary = bytes(range(256))
    first.set(b"binary\x00key", binary)
    assert last.get(b"binary\x00key") == binary
    step("binary keys and values")

    assert first.exists("greeting", "greeting", "missing") == 2
    assert last.delete("greeting", "missing", b"binary\x00key") == 2
    assert first.exists("greeting") == 0
    step("EXISTS and DEL of many keys")

    assert first.incr("counter") == 1
    assert last.incrby("counter", 41) == 42
    assert first.decr("counter") == 41
    assert last.decrby("counter", 50) == -9
    assert first.get("counter") == b"-9"
    first.set("not-a-number", "abc")
    expect_error(lambda: last.incr("not-a-number"), "value is not an integer")
    step("INCR, INCRBY, DECR, DECRBY, and a value that is not a number")

    assert first.setnx("text", "This is a string") is True
    assert last.setnx("text", "other") is False
    assert last.strlen("text") == 16
    assert first.getrange("text", -6, -1) == b"string"
    assert last.type("text") in ("string", b"string")
    assert first.touch("text", "missing") == 1
    assert last.unlink("text") == 1
    step("SETNX, STRLEN, GETRANGE, TYPE, TOUCH, UNLINK")

    assert first.getset("swap", "one") is None
    assert last.set("swap", "two", get=True) == b"one"
    assert first.append("swap", "-three") == 9
    assert last.getdel("swap") == b"two-three"
    assert first.mset({"m1": "a", "m2": "b"}) is True
    assert last.msetnx({"m2": "x", "m3": "c"}) is False
    assert first.dbsize() >= 2
    assert last.delete("m1", "m2", "m3") == 2
    step("GETSET, SET GET, APPEND, GETDEL, MSET, MSETNX, DBSIZE")

    transaction = first.pipeline(transaction=True)
    transaction.incr("tx:counter").set("tx:key", "v").mget("tx:key", "missing")
    assert transaction.execute() == [1, True, [b"v", None]]
    step("MULTI/EXEC through a redis-py transaction pipeline, MGET")

    def move(pipe):
        balance = int(pipe.get("tx:balance") or 0)
        pipe.multi()
        pipe.set("tx:balance", balance + 10)

    first.set("tx:balance", 5)
    assert first.transaction(move, "tx:balance") == [True]
    assert last.get("tx:balance") == b"15"
    step("WATCH, check-and-set with redis-py's transaction helper")

    watching = first.pipeline(transaction=True)
    watching.watch("tx:balance")
    last.set("tx:balance", 100)
    watching.multi()
    watching.set("tx:balance", 0)
    try:
        watching.execute()
        raise AssertionError("EXEC ran although the watched key changed")
    except redis.WatchError:
        pass
    assert first.get("tx:balance") == b"100"
    step("WATCH aborts EXEC after a change through another node")

    assert first.set("ttl:key", "v", px=200) is True
    assert 0 < last.pttl("ttl:key") <= 200
    assert first.ttl("greeting") == -2
    assert last.expire("ttl:key", 100, gt=True) is True
    assert first.persist("ttl:key") is True
    assert first.ttl("ttl:key") == -1
    assert first.setex("ttl:short", 1, "v") is True
    assert last.pexpire("ttl:short", 150) is True
    time.sleep(0.4)
    assert first.get("ttl:short") is None and last.exists("ttl:short") == 0
    assert last.getex("ttl:key", ex=100) == b"v"
    assert 0 < first.expiretime("ttl:key")
    expect_error(lambda: first.set("ttl:bad", "v", ex=0), "invalid expire time in 'set' command")
    step("SET PX, PTTL, TTL, EXPIRE GT, PERSIST, SETEX, PEXPIRE, expiry, GETEX, EXPIRETIME")

    pipeline = first.pipeline(transaction=False)
    for index in range(200):
        pipeline.set(f"key:{index}", index)
    for index in range(200):
        pipeline.get(f"key:{index}")
    replies = pipeline.execute()
    assert replies[:200] == [True] * 200
    assert replies[200:] == [str(index).encode() for index in range(200)]
    step("a pipeline of 400 commands, answered in order")

    pipeline = last.pipeline(transaction=False)
    pipeline.set("in-pipeline", "1")
    pipeline.execute_command("NO-SUCH-COMMAND")
    pipeline.get("in-pipeline")
    replies = pipeline.execute(raise_on_error=False)
    assert replies[0] is True and replies[2] == b"1", replies
    assert isinstance(replies[1], redis.ResponseError), replies
    step("an error inside a pipeline leaves the rest answered")

    expect_error(lambda: first.execute_command("NO-SUCH-COMMAND"), "unknown command")
    expect_error(lambda: first.execute_command("GET"), "wrong number of arguments")
    expect_error(lambda: first.execute_command("SET", "k", "v", "NX", "XX"), "syntax error")
    expect_error(lambda: first.execute_command("HELLO", "4"), "unsupported protocol version")
    step("errors: unknown command, arity, syntax, protocol version")

    first.client_setname("workload")
    assert first.client_getname() in ("workload", b"workload")
    assert isinstance(first.client_id(), int)
    step("CLIENT SETNAME, GETNAME, ID")

    host, port = endpoints[0].rsplit(":", 1)
    old = redis.Redis(host=host, port=int(port), protocol=2, socket_timeout=10)
    assert old.get("key:7") == b"7" and old.get("missing") is None
    step("a RESP2 connection beside them")
    print("redis-py workload passed", flush=True)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
