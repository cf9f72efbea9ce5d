#!/bin/sh
# install_test.sh BUILD_DIR SOURCE_DIR: install as a package would and use
# what was installed, from a prefix the build never knew.
#   - `meson install --destdir` into a temporary directory, then the tree is
#     moved elsewhere: the installed commands must still run (RUNPATH $ORIGIN);
#   - the installed commands: `autodidact` on a formula, `autodidact lesson`,
#     `gradcheck`; every one of them through cli_conventions.sh;
#   - no internal header installed; every installed header compiles alone in
#     C and in C++; nothing in bin/ but the project's own commands;
#   - the pkg-config files: no build-machine path, one BLAS, and a C and a
#     C++ program built with their flags alone, run against the installed
#     libraries.
set -u
build=$(cd "$1" && pwd) src=$(cd "$2" && pwd)
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT
unset LD_LIBRARY_PATH PKG_CONFIG_PATH

meson install -C "$build" --no-rebuild --quiet --destdir "$tmp/destdir" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log"; echo "FAIL: meson install"; exit 1; }
option() { meson introspect "$build" --buildoptions | python3 -c 'import json,sys; v=next(o["value"] for o in json.load(sys.stdin) if o["name"]==sys.argv[1]); print(",".join(v) if isinstance(v,list) else v)' "$1"; }
prefix_in_build=$(option prefix)
# A sanitized build installs sanitized libraries: programs linked to them need the same runtime.
san=$(option b_sanitize)
case "$san" in none|"") san_flags="" ;; *) san_flags="-fsanitize=$san" ;; esac
# Move the tree: the build's prefix must not be needed at run time.
mv "$tmp/destdir$prefix_in_build" "$tmp/moved"
p="$tmp/moved"
libdir=$(dirname "$(find "$p" -name 'libautodidact.so' | head -n 1)")
[ -d "$libdir" ] || { echo "FAIL: no libautodidact.so installed"; exit 1; }

# ---- what is installed where ----
ls "$p/bin" >"$tmp/bin"
for c in autodidact gradcheck autograde; do grep -qx "$c" "$tmp/bin" || fail "bin/$c not installed"; done
extra=$(grep -vx -e autodidact -e gradcheck -e autograde "$tmp/bin")
[ -z "$extra" ] || fail "bin/ holds more than the three commands: $extra"
lessons=$(ls "$p/libexec/autodidact" 2>/dev/null | wc -l)
[ "$lessons" -ge 10 ] || fail "libexec/autodidact/ holds $lessons lessons"
for h in ad_op_list.h ad_kernel_util.h ad_elementwise_math.h ad_internal.h gpu_internal.h sandbox.h ad_cli.h ad_report.h lesson.h; do
  [ -e "$p/include/autodidact/$h" ] && fail "internal header $h installed"
done
for m in autodidact gradcheck; do [ -s "$p/share/man/man1/$m.1" ] || fail "man page $m.1 not installed"; done

# ---- pkg-config ----
export PKG_CONFIG_PATH="$libdir/pkgconfig"
for pc in autodidact autodidact-gradcheck; do
  [ -f "$libdir/pkgconfig/$pc.pc" ] || { fail "$pc.pc not installed"; continue; }
  grep -n -e "$build" -e "$src" -e /usr/local/cuda "$libdir/pkgconfig/$pc.pc" && fail "$pc.pc holds a build-machine path"
  flags=$(pkg-config --cflags --libs --static "$pc") || { fail "pkg-config $pc"; continue; }
  case "$flags" in *gslcblas*) fail "pkg-config --static $pc pulls gslcblas beside OpenBLAS: $flags" ;; esac
  case "$flags" in *"$p"*) ;; *) fail "pkg-config $pc does not point into the installed prefix: $flags" ;; esac
done
[ "$(pkg-config --modversion autodidact)" = "$("$p/bin/autodidact" --version | sed -n '1s/.* //p')" ] ||
  fail "pkg-config's version differs from the commands'"

# ---- every installed header alone, in C and C++ ----
cflags=$(pkg-config --cflags autodidact-gradcheck)
for h in "$p"/include/autodidact/*.h; do
  b=$(basename "$h")
  printf '#include "%s"\nint main(void) { return 0; }\n' "$b" >"$tmp/h.c"
  cc -std=c11 -Wall -Wextra -Werror -pedantic $cflags -c "$tmp/h.c" -o "$tmp/h.o" 2>"$tmp/h.err" ||
    fail "$b does not compile alone in C: $(head -c 400 "$tmp/h.err")"
  if command -v c++ >/dev/null; then
    cp "$tmp/h.c" "$tmp/h.cpp"
    c++ -std=c++17 -Wall -Wextra -Werror $cflags -c "$tmp/h.cpp" -o "$tmp/h.o" 2>"$tmp/h.err" ||
      fail "$b does not compile alone in C++: $(head -c 400 "$tmp/h.err")"
  fi
done

# ---- programs built with pkg-config's flags alone ----
cat >"$tmp/prog.c" <<'C'
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "autodidact.h"
#include "ad_gradcheck.h"
#include "ad_kernel.h"
int main(void)
{
    ad_context *ctx = ad_context_new();
    ad_node *x = ad_scalar(ctx, 3.0);
    ad_node *f = ad_mul(ctx, ad_sin(ctx, x), x);   /* f = x sin x, f' = sin x + x cos x */
    if (!f || ad_backward(ctx, f) != AD_OK) return 1;
    /* the accessors; and the node behind the handle, read through the
     * installed ad_kernel.h as an op's kernels read it: its layout is the
     * installed library's */
    const ad_node *n = ad_node_of(f);
    if (ad_node_input_count(f) != 2 || ad_node_input(f, 1) != x || ad_handle_of(n) != f || n->n_in != 2 ||
        ad_handle_of(n->in[1]) != x || n->value.ndim != 0 || n->value.data != &n->inline_value ||
        n->grad != &n->inline_grad || n->ctx != ctx || !(n->flags & AD_NODE_REQUIRES_GRAD) ||
        strcmp(n->op->name, "mul") != 0)
        return 1;
    double want = sin(3.0) + 3.0 * cos(3.0), got = ad_grad_scalar(x);
    ad_gc_options o;
    ad_gc_default_options(&o);
    ad_gc_report r = {0};
    if (ad_gradcheck_op(ad_op_find("mul"), &o, &r) != AD_OK || r.n == 0 || r.n_fail) return 1;
    ad_gc_report_free(&r);
    ad_context_free(ctx);
    printf("C: f'(3) = %.15g (want %.15g), autodidact %s\n", got, want, ad_version());
    return fabs(got - want) < 1e-12 && !strcmp(ad_version(), AD_VERSION_STRING) ? 0 : 1;
}
C
if cc -std=c11 -Wall -Wextra -Werror $san_flags "$tmp/prog.c" -o "$tmp/prog_c" $(pkg-config --cflags --libs autodidact-gradcheck) -lm 2>"$tmp/cc.err"; then
  LD_LIBRARY_PATH="$libdir" "$tmp/prog_c" || fail "the C program linked through pkg-config failed"
else
  fail "C program through pkg-config does not build: $(cat "$tmp/cc.err")"
fi
if command -v c++ >/dev/null; then
  if c++ -std=c++17 -Wall -Wextra -Werror $san_flags "$src/tests/test_cpp.cpp" -o "$tmp/prog_cpp" \
       $(pkg-config --cflags --libs autodidact-gradcheck) 2>"$tmp/cxx.err"; then
    LD_LIBRARY_PATH="$libdir" "$tmp/prog_cpp" || fail "the C++ program linked through pkg-config failed"
  else
    fail "C++ program through pkg-config does not build: $(cat "$tmp/cxx.err")"
  fi
else
  echo "note: no C++ compiler: the C++ program is not built (install-deps.sh installs g++)"
fi

# ---- the installed commands, from the moved prefix ----
ldd "$p/bin/gradcheck" | grep -E "libautodidact(_gradcheck)?\.so" | grep -v "$p" &&
  fail "installed gradcheck loads a library from outside its prefix"
out=$("$p/bin/autodidact" 'x*sin(x)' --at x=3 --json) || fail "installed autodidact failed"
echo "$out" | python3 -c 'import json,sys,math; g=json.load(sys.stdin)["gradient"]["x"]; sys.exit(abs(g-(math.sin(3)+3*math.cos(3)))>1e-12)' ||
  fail "installed autodidact's gradient is wrong: $out"
out=$("$p/bin/autodidact" lesson chain_rule --json) || fail "autodidact lesson chain_rule failed"
echo "$out" | grep -q '"lesson":.*"chain_rule"' || fail "autodidact lesson chain_rule printed: $out"
"$p/bin/autodidact" lesson no_such_lesson 2>/dev/null; [ $? -eq 2 ] || fail "autodidact lesson no_such_lesson: not exit 2"
"$p/bin/gradcheck" --op tanh >/dev/null || fail "installed gradcheck --op tanh failed"

# every installed command follows the conventions
cmds=$(ls "$p"/bin/* "$p"/libexec/autodidact/*)
sh "$src/tests/cli_conventions.sh" $cmds || fail "cli_conventions.sh over the installed commands"

echo "install test: $fails failures"
[ $fails -eq 0 ]
