; fib(10) by a loop, a switch over its residues, printf of both.
@.fmt = private unnamed_addr constant [28 x i8] c"fib(%d) = %d, class %s (%d)\00"
@.nl = private unnamed_addr constant [2 x i8] c"\0A\00"
@.small = private unnamed_addr constant [6 x i8] c"small\00"
@.odd = private unnamed_addr constant [4 x i8] c"odd\00"
@.other = private unnamed_addr constant [6 x i8] c"other\00"
@calls = global i32 0

declare i32 @printf(ptr, ...)

define internal i32 @fib(i32 %n) {
entry:
  %c = load i32, ptr @calls
  %c1 = add i32 %c, 1
  store i32 %c1, ptr @calls
  br label %loop

loop:
  %i = phi i32 [ 0, %entry ], [ %i.next, %loop ]
  %a = phi i32 [ 0, %entry ], [ %b, %loop ]
  %b = phi i32 [ 1, %entry ], [ %sum, %loop ]
  %sum = add i32 %a, %b
  %i.next = add i32 %i, 1
  %done = icmp eq i32 %i.next, %n
  br i1 %done, label %exit, label %loop

exit:
  ret i32 %b
}

define internal ptr @classify(i32 %v) {
entry:
  %r = urem i32 %v, 4
  switch i32 %r, label %other [
    i32 0, label %small
    i32 1, label %odd
    i32 3, label %odd
  ]
small:
  ret ptr @.small
odd:
  ret ptr @.odd
other:
  ret ptr @.other
}

define i32 @main() {
entry:
  %f = call i32 @fib(i32 10)
  %cls = call ptr @classify(i32 %f)
  %calls = load i32, ptr @calls
  %p = call i32 (ptr, ...) @printf(ptr @.fmt, i32 10, i32 %f, ptr %cls, i32 %calls)
  %q = call i32 (ptr, ...) @printf(ptr @.nl)
  ret i32 %f
}
