/* cmd_list.c: placeholder until written */
