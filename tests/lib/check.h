/* check: the few assertions the C unit tests need. A failed check prints
 * file, line and what was expected, and the test goes on; check_exit()
 * turns the count into the exit code ctest reads. */
#ifndef TD_CHECK_H
#define TD_CHECK_H

#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_count;

static inline void check_true(int ok, const char *expr, const char *file, int line)
{
    check_count++;
    if (!ok) {
        check_failures++;
        fprintf(stderr, "%s:%d: check failed: %s\n", file, line, expr);
    }
}

static inline void check_str(const char *got, const char *want, const char *expr, const char *file,
                             int line)
{
    check_count++;
    if (!got || strcmp(got, want) != 0) {
        check_failures++;
        fprintf(stderr, "%s:%d: %s\n    got:  \"%s\"\n    want: \"%s\"\n", file, line, expr,
                got ? got : "(null)", want);
    }
}

static inline void check_contains(const char *got, const char *part, const char *expr,
                                  const char *file, int line)
{
    check_count++;
    if (!got || !strstr(got, part)) {
        check_failures++;
        fprintf(stderr, "%s:%d: %s\n    got:  \"%s\"\n    want it to contain: \"%s\"\n", file, line,
                expr, got ? got : "(null)", part);
    }
}

#define CHECK(expr)          check_true(!!(expr), #expr, __FILE__, __LINE__)
#define CHECK_STR(got, want) check_str((got), (want), #got, __FILE__, __LINE__)
#define CHECK_HAS(got, part) check_contains((got), (part), #got, __FILE__, __LINE__)

static inline int check_exit(const char *name)
{
    fprintf(stderr, "%s: %d checks, %d failed\n", name, check_count, check_failures);
    return check_failures ? 1 : 0;
}

#endif
