/* view.c: placeholder until written */
