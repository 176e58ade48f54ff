/* open_dev.c: placeholder until written */
