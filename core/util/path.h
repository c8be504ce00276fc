/* path: small file-system path helpers. */
#ifndef TD_PATH_H
#define TD_PATH_H

/* Returns base_dir/path as a new string, or a copy of path when it is
 * absolute or base_dir is NULL. Caller frees. NULL on no memory. */
char *td_path_join(const char *base_dir, const char *path);
/* Returns the folder part of path ("." when it has none). Caller frees. */
char *td_path_dir(const char *path);
/* Returns the file name without folder and without extension ext (e.g.
 * ".ini"). Caller frees. */
char *td_path_stem(const char *path, const char *ext);

#endif
