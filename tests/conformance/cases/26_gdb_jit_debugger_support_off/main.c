/* The program inspects the GDB JIT interface of its own process: with
   debugger support (llvm-jitlink's default) the executor registered one
   in-memory ELF debug object for this program (JIT_REGISTER_FN, a linked
   list, the newest entry first) and the object names this function. The
   descriptor is found by name, like gdb does, through the executor's
   dynamic symbol table. */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct jit_code_entry {
  struct jit_code_entry *next_entry, *prev_entry;
  const char *symfile_addr;
  uint64_t symfile_size;
};
struct jit_descriptor {
  uint32_t version, action_flag;
  struct jit_code_entry *relevant_entry, *first_entry;
};
extern struct jit_descriptor __jit_debug_descriptor;
void __jit_debug_register_code(void);

int jitted_marker_function(int x) { return x * 3; }

int main(void) {
  struct jit_descriptor *d = &__jit_debug_descriptor;
  int n = 0, elf = 0, marker = 0, linked = 1;
  for (struct jit_code_entry *e = d->first_entry; e; e = e->next_entry) {
    n++;
    if (e->symfile_size >= 4 && !memcmp(e->symfile_addr, "\177ELF", 4)) elf++;
    if (memmem(e->symfile_addr, e->symfile_size, "jitted_marker_function", 22)) marker = 1;
    if (e->next_entry && e->next_entry->prev_entry != e) linked = 0;
  }
  printf("version=%u action=%u entries=%d elf=%d relevant_is_first=%d marker=%d linked=%d\n",
         d->version, d->action_flag, n, elf, d->relevant_entry == d->first_entry, marker, linked);
  __jit_debug_register_code(); /* callable, and harmless without a debugger */
  return jitted_marker_function(n);
}
