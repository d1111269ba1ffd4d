struct Trouble {
  int code;
  explicit Trouble(int c) : code(c) {}
  virtual ~Trouble() {}
  virtual const char *name() const { return "Trouble"; }
};
struct Unlucky : Trouble {
  int number;
  explicit Unlucky(int n) : Trouble(n * 2), number(n) {}
  const char *name() const override { return "Unlucky"; }
};
struct Fatal : Trouble {
  Fatal() : Trouble(50) {}
  const char *name() const override { return "Fatal"; }
};
void make_trouble(int kind);        // trouble.cpp
extern void (*trouble_hook)(int);  // hook.cpp
