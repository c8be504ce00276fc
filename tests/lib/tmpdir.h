/* tmpdir: a scratch folder per test program, and files written into it. */
#ifndef TD_TMPDIR_H
#define TD_TMPDIR_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Creates a fresh folder under /tmp; returns its path (static storage, up to
 * 16 folders per program). */
static char tmpdir_paths[16][32];
static int tmpdir_used;

static inline void tmpdir_remove_all(void)
{
    for (int i = 0; i < tmpdir_used; i++) {
        char cmd[96];
        snprintf(cmd, sizeof(cmd), "rm -rf '%.31s'", tmpdir_paths[i]);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmpdir_paths[i]);
    }
}

static inline const char *tmpdir_create(void)
{
    char(*paths)[32] = tmpdir_paths;
    if (tmpdir_used == 0)
        atexit(tmpdir_remove_all);
    if (tmpdir_used == 16) {
        fprintf(stderr, "tmpdir_create: too many folders\n");
        exit(2);
    }
    char *path = paths[tmpdir_used++];
    snprintf(path, sizeof(paths[0]), "/tmp/tidings-test.XXXXXX");
    if (!mkdtemp(path)) {
        perror("mkdtemp");
        exit(2);
    }
    return path;
}

/* Writes text to dir/name (creating subfolders is the caller's job) and
 * returns the full path in a static buffer that the next call reuses. */
static inline const char *tmpdir_write(const char *dir, const char *name, const char *text)
{
    static char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        exit(2);
    }
    fputs(text, f);
    fclose(f);
    return path;
}

#endif
