/* libtally.so: a running total with a step the caller may change, and a
   visitor that calls back into its caller. */
int tally_step = 1;
static long total;

long tally_add(int times) {
  for (int i = 0; i < times; i++)
    total += tally_step;
  return total;
}

int tally_visit(int from, int to, int (*visit)(int)) {
  int accepted = 0;
  for (int i = from; i <= to; i++)
    accepted += visit(i) != 0;
  return accepted;
}

const char *tally_name(void) { return "libtally"; }
