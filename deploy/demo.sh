#!/usr/bin/env bash
# Quick start command 1: installs dependencies, builds, and runs the main job on this machine:
# a dozor-server on an embedded SQLite file (TLS with a throw-away CA) plus a local dozor-agent
# enrolled into a demo client organisation. Prints what to run or open next.
# Re-running it restarts the demo and keeps its data (demo/ in the repository).
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
bash deploy/install-deps.sh
bash deploy/build.sh

demo=${DOZOR_DEMO_DIR:-$repo/demo}
grpc_port=${DOZOR_DEMO_GRPC_PORT:-8443}
http_port=${DOZOR_DEMO_HTTP_PORT:-8480}
server_bin=$repo/build/server/dozor-server
agent_bin=$repo/build/agent/dozor-agent
ctl_bin=$repo/build/server/dozorctl
org="ООО «Демо-клиент»"
mkdir -p "$demo"
chmod 700 "$demo"

stop_pidfile() {
  if [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; then
    kill "$(cat "$1")" && sleep 1
  fi
  rm -f "$1"
}
stop_pidfile "$demo/agent.pid"
stop_pidfile "$demo/server.pid"

for port in "$grpc_port" "$http_port"; do
  if ss -ltn "( sport = :$port )" | grep -q LISTEN; then
    echo "demo: port $port is in use; set DOZOR_DEMO_GRPC_PORT / DOZOR_DEMO_HTTP_PORT" >&2
    exit 1
  fi
done

# A throw-away CA and a server certificate for localhost, so the agent talks TLS even in the demo.
tls=$demo/tls
if [ ! -f "$tls/server.crt" ]; then
  mkdir -p "$tls"
  (cd "$tls"
   openssl req -x509 -newkey rsa:2048 -nodes -days 825 -subj "/CN=Dozor demo CA" -keyout ca.key -out ca.crt 2>/dev/null
   openssl req -newkey rsa:2048 -nodes -subj "/CN=localhost" -keyout server.key -out server.csr 2>/dev/null
   echo "subjectAltName=DNS:localhost,IP:127.0.0.1" > san.ext
   openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 -extfile san.ext -out server.crt 2>/dev/null
   chmod 600 ca.key server.key)
fi

rm -f "$demo/server.ready"
nohup "$server_bin" --state-dir "$demo/server" \
  --grpc-listen "127.0.0.1:$grpc_port" --public-address "localhost:$grpc_port" \
  --http-listen "127.0.0.1:$http_port" \
  --tls-cert "$tls/server.crt" --tls-key "$tls/server.key" \
  --ready-file "$demo/server.ready" >>"$demo/server.log" 2>&1 &
echo $! >"$demo/server.pid"
for _ in $(seq 1 100); do
  [ -f "$demo/server.ready" ] && break
  kill -0 "$(cat "$demo/server.pid")" 2>/dev/null || { echo "demo: dozor-server failed to start:"; tail -20 "$demo/server.log"; exit 1; }
  sleep 0.1
done

export DOZOR_SERVER="http://127.0.0.1:$http_port"
export DOZOR_TOKEN_FILE="$demo/server/admin.token"
ctl() { "$ctl_bin" "$@"; }

if ! ctl org show "$org" >/dev/null 2>&1; then
  ctl org create "$org" --status prospect --type complex --engineer "Иван Петров" >/dev/null
fi
# The client's own sysadmin: a read-only account of the demo client (comments, "fixed - please
# verify"), to see what a client user sees. Its password stays in a 0600 file, never on a command line.
if ! ctl user show demo.sysadmin >/dev/null 2>&1; then
  (umask 077; python3 -c 'import secrets; print(secrets.token_urlsafe(12))' >"$demo/sysadmin.password")
  ctl user create demo.sysadmin --role client --org "$org" --name "Сисадмин клиента" \
    --language ru --password-stdin <"$demo/sysadmin.password" >/dev/null
fi
# The dashboard's login: an administrator with a generated password (0600 file, printed below).
if ! ctl user show demo.admin >/dev/null 2>&1; then
  (umask 077; python3 -c 'import secrets; print(secrets.token_urlsafe(12))' >"$demo/admin.password")
  ctl user create demo.admin --role admin --name "Демо Администратор" \
    --language ru --password-stdin <"$demo/admin.password" >/dev/null
  ctl notes set "$org" --text "Демо-клиент. Звонить сисадмину до 10:00; бухгалтерия работает в 1С." >/dev/null
fi
if [ ! -f "$demo/agent/identity.json" ]; then
  token=$(ctl --json token create --org "$org" --label "demo agent" --ttl-hours 1 |
          python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  "$agent_bin" enroll --server "localhost:$grpc_port" --ca "$tls/ca.crt" --token "$token" --state-dir "$demo/agent"
fi
nohup "$agent_bin" run --server "localhost:$grpc_port" --ca "$tls/ca.crt" --state-dir "$demo/agent" \
  --health-interval 15 >>"$demo/agent.log" 2>&1 &
echo $! >"$demo/agent.pid"

echo "Waiting for the agent's first inventory (the first apt-get simulation can take a few seconds)..."
agent_id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["agent_id"])' "$demo/agent/identity.json")
for _ in $(seq 1 120); do
  if ctl --json host show "$agent_id" 2>/dev/null | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)["host"].get("last_inventory_ms",0) > 0 else 1)' 2>/dev/null; then
    break
  fi
  sleep 1
done
echo
ctl host list
# Rules run after every report; evaluate now so the first findings are there to look at.
ctl org evaluate "$org" >/dev/null 2>&1 || true
echo
ctl findings list --org "$org" || true
cat <<EOT

Dozor is running (server pid $(cat "$demo/server.pid"), agent pid $(cat "$demo/agent.pid")); data in $demo.

Dashboard: $DOZOR_SERVER/
  administrator:         login demo.admin      password $(cat "$demo/admin.password")
  the client's sysadmin: login demo.sysadmin   password $(cat "$demo/sysadmin.password")
Next, in this shell:
  export DOZOR_SERVER=$DOZOR_SERVER DOZOR_TOKEN_FILE=$DOZOR_TOKEN_FILE
  $ctl_bin host show $agent_id        # summary: OS, CPU, RAM, disks, IPs, 1C, services
  $ctl_bin host inventory $agent_id   # full inventory
  $ctl_bin host health $agent_id      # health samples (every 15 s in the demo)
  $ctl_bin host changes $agent_id     # inventory change history
  $ctl_bin findings list --org "$org"              # weak spots found by the rule pack
  $ctl_bin findings show ID; $ctl_bin findings ack ID -m "planned"; $ctl_bin findings waive ID --reason "..."
  $ctl_bin report --org "$org" --format pdf -o audit.pdf   # the pre-contract audit report (also html, json, csv)
  $ctl_bin org contract "$org" --status remediation        # prospect -> remediation -> active -> ended
  $ctl_bin rules list                                      # the rule pack (docs/rules.md)
  $ctl_bin org list; $ctl_bin token create --org "$org"
  curl -s -H "Authorization: Bearer \$(cat $DOZOR_TOKEN_FILE)" $DOZOR_SERVER/api/v1/hosts   # the same API
People (docs/dozorctl.md): engineers and the client's sysadmin log in; a session replaces the token file:
  $ctl_bin user list; $ctl_bin org engineers "$org"     # "Иван Петров" became an account on the org
  $ctl_bin user create petr --role engineer --name "Пётр Козлов" --ask-password; $ctl_bin org assign "$org" petr --backup --specialty 1C
  (unset DOZOR_TOKEN_FILE; XDG_CONFIG_HOME=$demo/sysadmin-cli $ctl_bin login --login demo.sysadmin --password-stdin <$demo/sysadmin.password \
     && XDG_CONFIG_HOME=$demo/sysadmin-cli $ctl_bin findings list)   # what the client's sysadmin sees, in Russian
  $ctl_bin audit --since 1h                                # who changed what, from where
Logs: $demo/server.log, $demo/agent.log.  Stop: kill \$(cat $demo/agent.pid) \$(cat $demo/server.pid)
EOT
