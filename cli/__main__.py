"""`python -m seqkit.cli`: the seqkit command, as `seqkit train --workers N` starts its processes."""
from seqkit.cli.main import main

main(prog_name="seqkit")
