#!/bin/bash
# One `chat` round of a target; the server process's user and kernel CPU (from /proc/<pid>/stat,
# from 1.5 s after it started until it exits) divided by the publications the clients sent
# (all of them are delivered): µs of user and of kernel CPU per publication. Whole-life, so it also
# counts the connects and the drain; compare targets and commits with it, interleaved.
# Usage (from the repository root): bench/tools/server-cpu-split.sh switchboard|bun-raw|bun-chat
T=${1:-switchboard}
D=$(pwd)
LOG=$(mktemp)
( npx bun bench/run.ts chat --targets "$T" --no-save > "$LOG" 2>&1 ) &
BP=$!
case "$T" in switchboard) pat="src/main.ts";; *) pat="bench/peers/$T";; esac
PID=""
for _ in $(seq 1 300); do
  sleep 0.1
  for p in $(ls /proc | grep -E '^[0-9]+$'); do
    c=$(tr '\0' ' ' < /proc/$p/cmdline 2>/dev/null)
    if [[ "$c" == *"$pat"* ]] && [[ "$(readlink /proc/$p/cwd 2>/dev/null)" == "$D" ]]; then PID=$p; fi
  done 2>/dev/null
  [ -n "$PID" ] && break
done
[ -z "$PID" ] && { echo "server process not found"; wait $BP; exit 1; }
sleep 1.5
read -r U0 S0 < <(awk '{print $14, $15}' /proc/$PID/stat)
U1=$U0; S1=$S0
while kill -0 "$PID" 2>/dev/null; do
  r=$(awk '{print $14, $15}' /proc/$PID/stat 2>/dev/null) && [ -n "$r" ] && read -r U1 S1 <<< "$r"
  sleep 0.05
done
wait $BP
LINE=$(grep "chat × $T:" "$LOG")
SENT=$(echo "$LINE" | grep -o '"sent":[0-9]*' | cut -d: -f2)
echo "$LINE" | cut -c1-400
awk -v sent="$SENT" -v t="$T" -v u=$((U1 - U0)) -v s=$((S1 - S0)) -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%s: %d publications; per publication user %.2f µs, kernel %.2f µs, total %.2f µs\n", t, sent, u / hz * 1e6 / sent, s / hz * 1e6 / sent, (u + s) / hz * 1e6 / sent }'
rm -f "$LOG"
