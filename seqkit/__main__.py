"""`python -m seqkit`: the seqkit command."""
from seqkit.cli.main import main

main(prog_name="seqkit")
