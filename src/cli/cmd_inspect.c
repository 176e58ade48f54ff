/* cmd_inspect.c: placeholder until written */
