"""The processes of one training job: `seqkit train --workers N` runs the same command in N
processes under MPICH's mpiexec, for users who never start MPI themselves, and turns MPICH's
report of a process that died into one line; an error in one process ends them all."""
import importlib.util
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import click

from seqkit.cli.common import fail, message
from seqkit.training.group import EXTRA, StopEverywhere

REPORT_PID = "SEQKIT_REPORT_PID"  # set by --workers: each process says its rank and pid on stdout
PID_LINE, RUN_LINE = "seqkit-process", "seqkit-run"
MPICH_BANNER = re.compile(r"^(=+$|=   |YOUR APPLICATION TERMINATED|This typically refers|Please see the FAQ)")


def launch_workers(count):
    """Run this same command in `count` processes under the mpiexec of the mpich wheel (or the
    first on PATH) and return its exit status; Ctrl-C reaches the processes, which save and stop.
    MPICH reports a process that died (SIGKILL, say) in a banner on stdout, naming its pid; here
    it becomes one line naming its rank."""
    here = str(Path(sys.executable).parent)
    mpiexec = shutil.which("mpiexec", path=os.pathsep.join([here, os.environ.get("PATH", "")]))
    if mpiexec is None or importlib.util.find_spec("mpi4py") is None:
        raise click.ClickException(f"--workers needs MPI: {EXTRA}")
    # The script that is running (the seqkit command), not `python -m`, which would put the
    # current directory first on the path: in a checkout, its seqkit/ has no cli.
    command = [mpiexec, "-n", str(count), sys.executable, sys.argv[0], *sys.argv[1:]]
    # Without CMA (MPICH's copies straight from another process's memory), a process whose peer
    # dies waits for mpiexec to end it, and mpiexec's banner names the dead one; with it, the
    # copy from the dead peer could fail first and abort the job with MPICH's error instead.
    env = {"MPIR_CVAR_CH4_CMA_ENABLE": "0", **os.environ, REPORT_PID: "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)
    # Ctrl-C reaches mpiexec too, which passes it on to the processes: this one waits for them.
    previous = {signal.SIGINT: signal.signal(signal.SIGINT, signal.SIG_IGN),
                signal.SIGTERM: signal.signal(signal.SIGTERM, lambda number, frame: process.send_signal(number))}
    ranks, banner, run_dir, blank = {}, [], None, False
    try:
        for line in process.stdout:
            if line.startswith(PID_LINE):
                _, rank, pid = line.split()
                ranks[pid] = rank
            elif line.startswith(RUN_LINE):
                run_dir = line.split(maxsplit=1)[1].strip()
            elif MPICH_BANNER.match(line):
                banner.append(line)
            elif line == "\n" and not blank:  # the banner begins with one
                blank = True
                continue
            else:
                sys.stdout.write("\n" * blank + line)
            blank = False
        status = process.wait()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    pid = re.search(r"PID (\d+)", "".join(banner))
    signal_name = re.search(r"EXIT STRING: (.*\(signal \d+\))", "".join(banner))
    if pid and signal_name:  # (an error in a process was reported by that process)
        after = (f"the run's latest checkpoint is intact: continue with seqkit train --resume {run_dir}"
                 if run_dir else "training had not started")
        click.echo(f"Error: rank {ranks.get(pid.group(1), '?')} of {count} (pid {pid.group(1)}) ended: "
                   f"{signal_name.group(1)}; the others were stopped, {after}", err=True)
    return 128 - status if status < 0 else status  # killed by a signal: as a shell reports it


def fail_in_group(group, error):
    """Report an error in one process of a group and end them all: the others would wait for
    this one forever. StopEverywhere, which every process raises alike, is said by one only."""
    if isinstance(error, StopEverywhere):
        if group.rank == error.said_by:
            raise click.ClickException(message(error)) from None
        sys.exit(1)
    if group.size == 1:
        fail(error)
    click.echo(f"Error: rank {group.rank} of {group.size}: {message(error)}", err=True)
    sys.stderr.flush()
    group.abort()
    os._exit(1)  # MPI_Abort ends the job, but may return before it has ended this process
