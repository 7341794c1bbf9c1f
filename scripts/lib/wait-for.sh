#!/usr/bin/env bash
# Small readiness helpers shared by scripts/infra.sh (and usable by chaos tests).
# Source it; it defines functions only and changes no shell options.

# port_open HOST PORT
# True when something accepts a TCP connection. Uses bash's /dev/tcp so it needs
# no netcat; the timeout guards against a SYN that is silently dropped.
port_open() {
  # shellcheck disable=SC2016 # $1/$2 are meant for the inner bash
  timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# mongo_ping HOST PORT
# Sends a real MongoDB `ping` (OP_MSG, opcode 2013) and succeeds only on {ok: 1}.
# An open port alone is not enough: FerretDB binds its listener before its
# backend is usable. Without node (no driver is assumed) it degrades to a TCP check.
mongo_ping() {
  if ! command -v node >/dev/null 2>&1; then
    port_open "$1" "$2"
    return
  fi
  # shellcheck disable=SC2016 # JavaScript, not shell
  timeout 5 node -e '
    const net = require("net");
    const [host, port] = process.argv.slice(1);
    // BSON {ping: 1, $db: "admin"} built by hand so no npm package is needed.
    const cstr = (s) => Buffer.from(s + "\0", "utf8");
    const int32 = (n) => { const b = Buffer.alloc(4); b.writeInt32LE(n); return b; };
    const body = Buffer.concat([
      Buffer.from([0x10]), cstr("ping"), int32(1),
      Buffer.from([0x02]), cstr("$db"), int32(6), cstr("admin"),
      Buffer.from([0x00]),
    ]);
    const doc = Buffer.concat([int32(body.length + 4), body]);
    const msg = Buffer.concat([int32(0), int32(1), int32(0), int32(2013), int32(0), Buffer.from([0]), doc]);
    msg.writeInt32LE(msg.length, 0);
    let buf = Buffer.alloc(0);
    const sock = net.connect(Number(port), host, () => sock.write(msg));
    sock.on("data", (d) => {
      buf = Buffer.concat([buf, d]);
      if (buf.length < 4 || buf.length < buf.readInt32LE(0)) return;
      sock.destroy();
      // Only an OP_MSG answering our request id counts as a MongoDB reply.
      if (buf.length < 21 || buf.readInt32LE(8) !== 1 || buf.readInt32LE(12) !== 2013) process.exit(1);
      // Header (16) + flagBits (4) + section kind (1), then the reply document.
      const reply = buf.subarray(21);
      let i = 4;
      while (i < reply.length && reply[i] !== 0) {
        const type = reply[i];
        const end = reply.indexOf(0, i + 1);
        const name = reply.toString("utf8", i + 1, end);
        const v = end + 1;
        if (name === "ok") {
          const ok = type === 0x01 ? reply.readDoubleLE(v) : type === 0x10 ? reply.readInt32LE(v) : 0;
          process.exit(ok === 1 ? 0 : 1);
        }
        // Skip the value of an element we do not care about.
        const sizes = { 0x01: 8, 0x08: 1, 0x09: 8, 0x10: 4, 0x11: 8, 0x12: 8, 0x0a: 0, 0x07: 12 };
        if (type in sizes) i = v + sizes[type];
        else if (type === 0x02) i = v + 4 + reply.readInt32LE(v);
        else if (type === 0x03 || type === 0x04) i = v + reply.readInt32LE(v);
        else process.exit(1);
      }
      process.exit(1);
    });
    // A non-MongoDB server may just hang up; without this node would exit 0.
    sock.on("close", () => process.exit(1));
    sock.on("error", () => process.exit(1));
  ' "$1" "$2" 2>/dev/null
}

# wait_until TIMEOUT_SECONDS DESCRIPTION LOGFILE COMMAND [ARGS...]
# Polls COMMAND once a second. On timeout prints the tail of LOGFILE (the first
# thing anyone debugging a CI failure needs) and returns 1.
wait_until() {
  local timeout=$1 what=$2 logfile=$3
  shift 3
  local deadline=$((SECONDS + timeout))
  until "$@"; do
    if ((SECONDS >= deadline)); then
      echo "[infra] ERROR: timed out after ${timeout}s waiting for ${what}" >&2
      if [[ -n $logfile && -r $logfile ]]; then
        echo "[infra] last lines of ${logfile}:" >&2
        tail -n 30 "$logfile" >&2 || true
      fi
      return 1
    fi
    sleep 1
  done
}
