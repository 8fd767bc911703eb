#!/usr/bin/env bash
# Two processes of one `seqkit train` in two network namespaces joined only by a veth pair
# (10.77.0.1 and 10.77.0.2, addresses that exist inside the namespaces only): the TCP path
# that two machines would take. MPICH's Hydra starts the second process through a "launcher"
# that enters its namespace where ssh would log in to the other machine; shared memory is
# turned off (MPIR_CVAR_NOLOCAL, UCX over TCP on the veth), and the bytes sent on the veth are
# counted. The result is compared with one process training the same model (float64).
# Needs root (ip netns) and the mpi extra:  sudo bash bench/netns_tcp.sh
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
remove_namespaces() { ip netns del seqkit-a 2>/dev/null || true; ip netns del seqkit-b 2>/dev/null || true; }
trap 'remove_namespaces; rm -rf "$work"' EXIT
remove_namespaces  # left by an earlier run that was killed
ip netns add seqkit-a
ip netns add seqkit-b
ip link add seqkit-veth-a type veth peer name seqkit-veth-b
ip link set seqkit-veth-a netns seqkit-a
ip link set seqkit-veth-b netns seqkit-b
ip -n seqkit-a addr add 10.77.0.1/24 dev seqkit-veth-a
ip -n seqkit-b addr add 10.77.0.2/24 dev seqkit-veth-b
for ns in a b; do ip -n seqkit-$ns link set seqkit-veth-$ns up; ip -n seqkit-$ns link set lo up; done

cat > "$work/launch" <<'LAUNCH'
#!/bin/bash
# Called by Hydra as ssh would be: [options] HOST COMMAND...; runs COMMAND in HOST's namespace.
while [ $# -gt 0 ]; do
  case "$1" in 10.77.0.1) ns=seqkit-a; shift; break;; 10.77.0.2) ns=seqkit-b; shift; break;; *) shift;; esac
done
exec ip netns exec "$ns" sh -c "$*"
LAUNCH
chmod +x "$work/launch"

head -c 20000 corpora/tinyshakespeare.txt > "$work/corpus.txt"
options=(--hidden 64 --batch-size 8 --seq-len 32 --dtype float64 --steps 30 --sample-length 0 --eval-every 10
         --seed 5 --lr-schedule step --lr-decay 0.9 --lr-decay-every 4)
python=$(command -v python)
sent() { ip netns exec seqkit-a cat /sys/class/net/seqkit-veth-a/statistics/tx_bytes; }
before=$(sent)
ip netns exec seqkit-a "$(dirname "$python")/mpiexec" -genv MPIR_CVAR_NOLOCAL 1 -genv UCX_TLS tcp \
    -launcher ssh -launcher-exec "$work/launch" -iface seqkit-veth-a -hosts 10.77.0.1,10.77.0.2 -n 2 -ppn 1 \
    "$(dirname "$python")/seqkit" train "$work/corpus.txt" -o "$work/two" "${options[@]}" 2>&1 | tail -1
echo "sent on the veth by 10.77.0.1: $(( $(sent) - before )) bytes"
"$(dirname "$python")/seqkit" train "$work/corpus.txt" -o "$work/one" "${options[@]}" 2>&1 | tail -1
"$python" - "$work" <<'COMPARE'
import sys
import numpy as np
from seqkit.runs.checkpoint import load_arrays
two, meta = load_arrays(f"{sys.argv[1]}/two/latest.npz")
one, _ = load_arrays(f"{sys.argv[1]}/one/latest.npz")
params = sum(a.size for k, a in one.items() if k.startswith("model."))
print(f"{meta['processes']} processes in two namespaces against 1: {params:,} parameters, largest difference "
      f"{max(float(np.max(np.abs(two[k] - one[k]))) for k in one):.1e} over {len(one)} arrays")
COMPARE
