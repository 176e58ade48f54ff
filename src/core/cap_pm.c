/* cap_pm.c: placeholder until written */
