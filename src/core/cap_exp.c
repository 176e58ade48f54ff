/* cap_exp.c: placeholder until written */
