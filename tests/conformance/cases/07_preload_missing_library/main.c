/* Never runs: the preload fails first. */
int main(void) { return 3; }
