/* dev.c: placeholder until written */
