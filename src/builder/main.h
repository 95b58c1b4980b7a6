/* The verbs of pier-build, one function each; main.c dispatches.  Each
 * takes the arguments after the program name (argv[0] is the verb) and
 * returns the exit status. */
#pragma once

int cmd_pre_receive(int argc, char **argv);
int cmd_extract(int argc, char **argv);
