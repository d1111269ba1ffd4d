/* Built into ./libpre.so; loaded by -preload=./libpre.so before linking.
   Its constructor runs when the executor opens it. */
int pre_ready;
int pre_counter = 5;
__attribute__((constructor)) static void pre_init(void) { pre_ready = 1234; }
const char *pre_greeting(void) { return "hello from libpre"; }
int pre_bump(void) { return ++pre_counter; }
