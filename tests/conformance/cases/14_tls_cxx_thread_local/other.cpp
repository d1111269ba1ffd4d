thread_local long tl_extern = 3;
