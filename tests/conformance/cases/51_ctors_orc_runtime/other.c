int other_ready;

__attribute__((constructor)) static void ready(void) { other_ready = 3; }
