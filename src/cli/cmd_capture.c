/* cmd_capture.c: placeholder until written */
