/* sysfs.c: placeholder until written */
