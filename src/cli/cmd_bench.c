/* cmd_bench.c: placeholder until written */
